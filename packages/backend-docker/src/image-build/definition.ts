import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ImageBuildUnavailableError, IMAGE_BUILD_COMMAND } from './errors.js';
import { runCommand } from './run-command.js';

/** The pinned inputs of the runtime image (images/runtime/versions.env). */
export interface RuntimeImageVersions {
  CORDON_RUNTIME_VERSION: string;
  DEBIAN_SUITE: string;
  DEBIAN_MIRROR: string;
  DEBIAN_PACKAGES: string;
  NODE_VERSION: string;
  STRIPE_VERSION: string;
}

const VERSION_KEYS = [
  'CORDON_RUNTIME_VERSION',
  'DEBIAN_SUITE',
  'DEBIAN_MIRROR',
  'DEBIAN_PACKAGES',
  'NODE_VERSION',
  'STRIPE_VERSION',
] as const;

/** The image definition this package ships (dist/image, a copy of the repo's images/runtime). */
export interface ImageDefinition {
  dir: string;
  versions: RuntimeImageVersions;
}

/**
 * Where the shipped definition is: beside the compiled modules (dist/image-build → dist/image),
 * or, when running from source in the repo, the package's built copy.
 */
export function definitionDir(): string {
  for (const relative of ['../image/', '../../dist/image/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${dir}build-offline.sh`)) return dir.replace(/\/$/, '');
  }
  throw new ImageBuildUnavailableError(
    'definition',
    'the image definition is missing from @cordon/backend-docker (its dist/image directory)',
    'Reinstall @cordon/backend-docker (in a cordon checkout: pnpm build).',
  );
}

export function readDefinition(dir: string = definitionDir()): ImageDefinition {
  const text = readFileSync(`${dir}/versions.env`, 'utf8');
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) values.set(match[1], match[2]);
  }
  const versions = Object.fromEntries(
    VERSION_KEYS.map((key) => {
      const value = values.get(key);
      if (!value) {
        throw new ImageBuildUnavailableError(
          'definition',
          `${dir}/versions.env does not set ${key}`,
          'Reinstall @cordon/backend-docker.',
        );
      }
      return [key, value];
    }),
  ) as unknown as RuntimeImageVersions;
  return { dir, versions };
}

/**
 * The definition's content hash, computed by the very pipeline build-offline.sh uses
 * (so both build paths label the same definition alike).
 */
export async function contentHash(dir: string, signal?: AbortSignal): Promise<string> {
  const result = await runCommand({
    command: 'bash',
    args: ['-c', 'set -o pipefail; cat versions.env Dockerfile build-offline.sh runner/* | sha256sum | cut -c1-16'],
    cwd: dir,
    signal,
  });
  const hash = result.stdout.trim();
  if (result.code !== 0 || !/^[0-9a-f]{16}$/.test(hash)) {
    throw new ImageBuildUnavailableError(
      'offline-tools',
      `could not hash the image definition in ${dir} (bash, cat, sha256sum: ${result.missing ? 'bash is missing' : result.stderr.trim() || `exit ${result.code}`})`,
      `Install bash and coreutils, then run ${IMAGE_BUILD_COMMAND} again.`,
    );
  }
  return hash;
}

/** The rootfs tarball and base image build-offline.sh uses for this definition (the script's formula). */
export function rootfsFor(cacheDir: string, versions: RuntimeImageVersions): { tarball: string; baseImage: string } {
  const hash = createHash('sha256')
    .update(`${versions.DEBIAN_SUITE}\n${versions.DEBIAN_MIRROR}\n${versions.DEBIAN_PACKAGES}\n`)
    .digest('hex')
    .slice(0, 16);
  return {
    tarball: `${cacheDir}/rootfs-${versions.DEBIAN_SUITE}-${hash}.tar`,
    baseImage: `cordon-rootfs:${versions.DEBIAN_SUITE}-${hash}`,
  };
}

/** build-offline.sh's cache: CORDON_CACHE_DIR, else /var/cache/cordon/runtime. */
export function defaultCacheDir(): string {
  return process.env.CORDON_CACHE_DIR || '/var/cache/cordon/runtime';
}
