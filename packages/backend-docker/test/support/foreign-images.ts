import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BUILD = fileURLToPath(new URL('../../../../images/test/build-foreign.sh', import.meta.url));

/**
 * Whether the foreign test images (images/test/build-foreign.sh) are built. Missing,
 * they fail the file where CORDON_REQUIRE_TIERS names docker (as in CI) and are
 * skipped loudly otherwise.
 */
export async function foreignImagesPresent(): Promise<boolean> {
  await Promise.resolve();
  if (spawnSync('bash', [BUILD, '--check'], { stdio: 'ignore' }).status === 0) return true;
  const why = `the foreign test images are not built (bash ${BUILD})`;
  const required = new Set((process.env.CORDON_REQUIRE_TIERS ?? '').split(',').map((name) => name.trim()));
  if (required.has('all') || required.has('docker')) throw new Error(`tier "docker" is required but ${why}`);
  const line = '!'.repeat(78);
  console.warn(`\n${line}\n!! SKIPPING the foreign-image tests: ${why}\n${line}\n`);
  return false;
}
