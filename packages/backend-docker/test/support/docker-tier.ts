import { dockerAvailability } from '../../src/availability.js';

/**
 * Whether the real-daemon tests can run here. When they cannot, the file fails if
 * CORDON_REQUIRE_TIERS names docker (or all), as in CI, and is skipped LOUDLY otherwise.
 */
export async function dockerTier(
  tier: 'docker' | 'gvisor' = 'docker',
  options: Record<string, unknown> = {},
): Promise<boolean> {
  const probe = await dockerAvailability(options);
  if (probe.usable) return true;
  const required = new Set((process.env.CORDON_REQUIRE_TIERS ?? '').split(',').map((name) => name.trim()));
  const why = `${probe.detail}${probe.remedy ? `. ${probe.remedy}` : ''}`;
  if (required.has('all') || required.has(tier)) {
    throw new Error(`tier "${tier}" is required (CORDON_REQUIRE_TIERS) but cannot run: ${why}`);
  }
  const line = '!'.repeat(78);
  console.warn(`\n${line}\n!! SKIPPING the ${tier} tier tests: ${why}\n${line}\n`);
  return false;
}
