import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE } from '../src/runtime-image.js';
import { contentHash, definitionDir, readDefinition, rootfsFor } from '../src/image-build/definition.js';

const source = fileURLToPath(new URL('../../../images/runtime', import.meta.url));
const shipped = fileURLToPath(new URL('../dist/image', import.meta.url));

/** build-offline.sh's own formula, run in a directory. */
function scriptHash(dir: string): string {
  const result = spawnSync(
    'bash',
    ['-c', 'set -o pipefail; cat versions.env Dockerfile build-offline.sh runner/* | sha256sum | cut -c1-16'],
    { cwd: dir, encoding: 'utf8' },
  );
  expect(result.status).toBe(0);
  return result.stdout.trim();
}

describe('the shipped runtime image definition (dist/image)', () => {
  it('is the one buildRuntimeImage uses', () => {
    expect(definitionDir()).toBe(shipped);
  });

  it('is a byte-identical copy of images/runtime, runner/ wholesale', () => {
    for (const name of ['Dockerfile', 'build-offline.sh', 'fetch-vendor.sh', 'versions.env'])
      expect(readFileSync(`${shipped}/${name}`, 'utf8'), name).toBe(readFileSync(`${source}/${name}`, 'utf8'));
    const runner = readdirSync(`${source}/runner`).sort();
    expect(readdirSync(`${shipped}/runner`).sort()).toEqual(runner);
    for (const name of runner)
      expect(readFileSync(`${shipped}/runner/${name}`, 'utf8'), name).toBe(
        readFileSync(`${source}/runner/${name}`, 'utf8'),
      );
  });

  it('has the content hash build-offline.sh computes in the repo', async () => {
    const hash = scriptHash(source);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(scriptHash(shipped)).toBe(hash);
    expect(await contentHash(shipped)).toBe(hash);
  });

  it("reads the pinned versions, and names the script's rootfs cache", () => {
    const { versions } = readDefinition();
    expect(DEFAULT_IMAGE).toBe(`cordon-runtime:${versions.CORDON_RUNTIME_VERSION}`);
    expect(versions.NODE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    const rootfs = rootfsFor('/cache', versions);
    // The script hashes suite, mirror and package list, one per line.
    const expected = spawnSync(
      'bash',
      [
        '-c',
        `printf '%s\\n' "${versions.DEBIAN_SUITE}" "${versions.DEBIAN_MIRROR}" "${versions.DEBIAN_PACKAGES}" | sha256sum | cut -c1-16`,
      ],
      { encoding: 'utf8' },
    ).stdout.trim();
    expect(rootfs).toEqual({
      tarball: `/cache/rootfs-${versions.DEBIAN_SUITE}-${expected}.tar`,
      baseImage: `cordon-rootfs:${versions.DEBIAN_SUITE}-${expected}`,
    });
  });
});
