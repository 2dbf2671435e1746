import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { DockerCli } from './docker-cli.js';
import { rootfsFor, type ImageDefinition } from './definition.js';
import { IMAGE_BUILD_COMMAND, ImageBuildFailedError, ImageBuildUnavailableError } from './errors.js';
import { outputTail, runCommand } from './run-command.js';
import { ensureCacheDir } from './vendor.js';

/** What the offline path needs, in the words every error repeats. */
export const OFFLINE_NEEDS =
  'root, the debootstrap package (apt-get install -y debootstrap) and a Debian mirror it can reach (DEBIAN_MIRROR in versions.env, deb.debian.org)';

export interface OfflineBuildOptions {
  docker: DockerCli;
  definition: ImageDefinition;
  image: string;
  cacheDir: string;
  signal?: AbortSignal | undefined;
  onProgress: (line: string) => void;
}

/**
 * Checks what the shipped build-offline.sh will need. debootstrap and root only matter
 * while the rootfs tarball is not cached yet; the cache is always written.
 * @throws ImageBuildUnavailableError naming the first thing missing.
 */
export function checkOffline(options: Pick<OfflineBuildOptions, 'definition' | 'cacheDir'>): { rootfsCached: boolean } {
  ensureCacheDir(options.cacheDir);
  for (const tool of ['bash', 'flock', 'tar', 'sha256sum', 'npm']) {
    if (!onPath(tool)) {
      throw new ImageBuildUnavailableError(
        'offline-tools',
        `${tool} is not on PATH (the offline build script needs bash, flock, tar, sha256sum and npm)`,
        `Install it (Debian: bash, util-linux, tar, coreutils; npm ships with Node.js), then run ${IMAGE_BUILD_COMMAND} --offline again.`,
      );
    }
  }
  const { tarball } = rootfsFor(options.cacheDir, options.definition.versions);
  if (existsSync(tarball)) return { rootfsCached: true };
  if (process.getuid?.() !== 0) {
    throw new ImageBuildUnavailableError(
      'root',
      `the offline build debootstraps a Debian rootfs, which needs root (this is uid ${process.getuid?.() ?? 'unknown'})`,
      `Run it as root (sudo ${IMAGE_BUILD_COMMAND} --offline; it needs ${OFFLINE_NEEDS}), or build through a registry: ${IMAGE_BUILD_COMMAND} --registry.`,
    );
  }
  if (!onPath('debootstrap')) {
    throw new ImageBuildUnavailableError(
      'debootstrap',
      'debootstrap is not installed (the offline build makes its Debian rootfs with it)',
      `apt-get install -y debootstrap, then ${IMAGE_BUILD_COMMAND} --offline (it needs ${OFFLINE_NEEDS}); or build through a registry: ${IMAGE_BUILD_COMMAND} --registry.`,
    );
  }
  return { rootfsCached: false };
}

/** Runs the shipped build-offline.sh (debootstrap rootfs, docker import, docker build). */
export async function offlineBuild(options: OfflineBuildOptions): Promise<void> {
  const result = await runCommand({
    command: 'bash',
    args: [join(options.definition.dir, 'build-offline.sh'), '--image', options.image],
    env: { ...options.docker.env, CORDON_CACHE_DIR: options.cacheDir },
    signal: options.signal,
    onLine: options.onProgress,
  });
  options.signal?.throwIfAborted();
  if (result.code !== 0) {
    const last = result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`;
    const debootstrap = /debootstrap/.test(last)
      ? ` (the offline build needs ${OFFLINE_NEEDS}; the log is in ${options.cacheDir}/debootstrap.log)`
      : '';
    throw new ImageBuildFailedError('build-offline.sh', `${last}${debootstrap}`, outputTail(result));
  }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
