import { copyFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerCli } from './docker-cli.js';
import type { ImageDefinition } from './definition.js';
import { ImageBuildFailedError } from './errors.js';
import { outputTail } from './run-command.js';
import { fillVendor } from './vendor.js';

export interface RegistryBuildOptions {
  docker: DockerCli;
  definition: ImageDefinition;
  contentHash: string;
  /** Present locally by now (the caller pulled it). */
  base: string;
  image: string;
  cacheDir: string;
  signal?: AbortSignal | undefined;
  onProgress: (line: string) => void;
}

/**
 * `docker build` of the shipped Dockerfile FROM `base`: the Dockerfile's apt-get step
 * installs the packages (a base without /etc/cordon-rootfs), vendor/ comes from npm.
 */
export async function registryBuild(options: RegistryBuildOptions): Promise<void> {
  const { definition, docker, signal } = options;
  const context = mkdtempSync(join(tmpdir(), 'cordon-image-context-'));
  try {
    copyFileSync(`${definition.dir}/Dockerfile`, `${context}/Dockerfile`);
    cpSync(`${definition.dir}/runner`, `${context}/runner`, { recursive: true });
    await fillVendor({
      contextDir: context,
      cacheDir: options.cacheDir,
      versions: definition.versions,
      signal,
      onProgress: options.onProgress,
    });
    const { versions } = definition;
    options.onProgress(`docker build ${options.image} (FROM ${options.base})`);
    const result = await docker.run(
      [
        'build',
        // A failed step leaves no intermediate container behind.
        '--force-rm',
        '--build-arg',
        `BASE_IMAGE=${options.base}`,
        '--build-arg',
        `CORDON_RUNTIME_VERSION=${versions.CORDON_RUNTIME_VERSION}`,
        '--build-arg',
        `NODE_VERSION=${versions.NODE_VERSION}`,
        '--build-arg',
        `STRIPE_VERSION=${versions.STRIPE_VERSION}`,
        '--label',
        `dev.cordon.content-hash=${options.contentHash}`,
        '--label',
        `dev.cordon.base-image=${options.base}`,
        '-t',
        options.image,
        context,
      ],
      options.onProgress,
      true,
    );
    signal?.throwIfAborted();
    if (result.code !== 0) {
      const last = result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`;
      throw new ImageBuildFailedError('docker build', last, outputTail(result));
    }
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
