import { InvalidRequestError } from '@cordon/core';
import { RUNNER_PROTOCOL, RUNNER_PROTOCOL_LABEL, RUNTIME_VERSION_LABEL } from '@cordon/core/backend';
import { DEFAULT_IMAGE } from '../runtime-image.js';
import { contentHash, defaultCacheDir, readDefinition, rootfsFor } from './definition.js';
import { DockerCli } from './docker-cli.js';
import { IMAGE_BUILD_COMMAND, ImageBuildFailedError, ImageBuildUnavailableError } from './errors.js';
import { checkOffline, offlineBuild, OFFLINE_NEEDS } from './offline-build.js';
import { registryBuild } from './registry-build.js';

export type ImageBuildMode = 'auto' | 'registry' | 'offline';
export const IMAGE_BUILD_MODES: readonly ImageBuildMode[] = ['auto', 'registry', 'offline'];

/** The official base the registry path builds FROM. */
export const DEFAULT_BASE_IMAGE = 'debian:bookworm-slim';

export interface BuildRuntimeImageOptions {
  /** `registry`: FROM `base` (pulled); `offline`: FROM a debootstrap rootfs; `auto`: registry when `base` is present or pulls. @default 'auto' */
  mode?: ImageBuildMode;
  /** The registry path's base image. @default 'debian:bookworm-slim' */
  base?: string;
  /** The tag to build. @default `cordon-runtime:<version>`, the image the backends run */
  image?: string;
  /** Daemon address. @default DOCKER_HOST, else the local socket */
  dockerHost?: string;
  /** Downloads and the rootfs tarball. @default CORDON_CACHE_DIR, else /var/cache/cordon/runtime */
  cacheDir?: string;
  /** How long `auto` waits for a pull of `base` before building offline. @default 60000 */
  pullTimeoutMs?: number;
  signal?: AbortSignal;
  /** Each progress line (steps, docker build, the offline script's log). */
  onProgress?: (line: string) => void;
}

export interface RuntimeImageBuild {
  image: string;
  id: string;
  mode: 'registry' | 'offline';
  /** Why this path (for `auto`: whether the base could be pulled). */
  reason: string;
  /** What the image was built FROM. */
  base: string;
  runtimeVersion: string;
  runnerProtocol: string;
  contentHash: string;
  nodeVersion: string;
  stripeVersion: string;
  durationMs: number;
}

// A docker reference: [host[:port]/]path[:tag][@digest].
const REFERENCE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

function checkReference(field: string, value: string, digestAllowed: boolean): string {
  if (!REFERENCE.test(value) || (!digestAllowed && value.includes('@'))) {
    throw new InvalidRequestError(field, value, 'must be a docker image reference such as cordon-runtime:0.2.0');
  }
  return value;
}

/** `name` → `name:latest`; a registry port is not a tag. */
function withTag(reference: string): string {
  const last = reference.slice(reference.lastIndexOf('/') + 1);
  return last.includes(':') ? reference : `${reference}:latest`;
}

/**
 * Builds the cordon runtime image from the definition this package ships (dist/image,
 * a copy of images/runtime): through a registry (`docker build` FROM the official base,
 * packages from apt, Node and stripe from npm) or offline (the shipped build-offline.sh:
 * debootstrap, which needs root, the debootstrap package and a Debian mirror).
 * Checks the result speaks this backend's runner protocol.
 * @throws InvalidRequestError for a bad option, ImageBuildUnavailableError naming what is
 *   missing, ImageBuildFailedError when a step fails.
 */
export async function buildRuntimeImage(options: BuildRuntimeImageOptions = {}): Promise<RuntimeImageBuild> {
  const started = performance.now();
  const mode = options.mode ?? 'auto';
  if (!IMAGE_BUILD_MODES.includes(mode)) {
    throw new InvalidRequestError('mode', mode, `must be one of ${IMAGE_BUILD_MODES.join(', ')}`);
  }
  const base = checkReference('base', options.base ?? DEFAULT_BASE_IMAGE, true);
  const image = withTag(checkReference('image', options.image ?? DEFAULT_IMAGE, false));
  const pullTimeoutMs = options.pullTimeoutMs ?? 60_000;
  if (!Number.isInteger(pullTimeoutMs) || pullTimeoutMs < 1_000) {
    throw new InvalidRequestError('pullTimeoutMs', pullTimeoutMs, 'must be a whole number of milliseconds ≥ 1000');
  }
  const { signal } = options;
  const progress = options.onProgress ?? (() => undefined);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const definition = readDefinition();
  const hash = await contentHash(definition.dir, signal);
  const docker = new DockerCli({ dockerHost: options.dockerHost, signal });
  const server = await docker.serverVersion();
  progress(
    `definition ${definition.dir} (runtime ${definition.versions.CORDON_RUNTIME_VERSION}, content ${hash}); Docker ${server}`,
  );

  let chosen: { mode: 'registry' | 'offline'; reason: string };
  if (mode === 'offline') {
    chosen = { mode: 'offline', reason: 'asked for with --offline' };
  } else {
    const found = await baseAvailable(docker, base, mode === 'auto' ? pullTimeoutMs : undefined, signal, progress);
    if (found.ok) chosen = { mode: 'registry', reason: found.how };
    else if (mode === 'auto') {
      chosen = {
        mode: 'offline',
        reason: `${base} could not be pulled (${found.reason}), so from a debootstrap rootfs`,
      };
    } else {
      throw new ImageBuildUnavailableError(
        'base-image',
        `the base image ${base} is not present and cannot be pulled (${found.reason})`,
        `Point --base at a registry that answers (a mirror of ${DEFAULT_BASE_IMAGE}), or build without one: ${IMAGE_BUILD_COMMAND} --offline (needs ${OFFLINE_NEEDS}).`,
      );
    }
  }
  progress(`mode ${chosen.mode}: ${chosen.reason}`);

  let builtFrom: string;
  if (chosen.mode === 'registry') {
    await registryBuild({ docker, definition, contentHash: hash, base, image, cacheDir, signal, onProgress: progress });
    builtFrom = base;
  } else {
    const { rootfsCached } = checkOffline({ definition, cacheDir });
    progress(rootfsCached ? 'rootfs tarball cached' : `no cached rootfs: debootstrap (needs ${OFFLINE_NEEDS})`);
    await offlineBuild({ docker, definition, image, cacheDir, signal, onProgress: progress });
    builtFrom = rootfsFor(cacheDir, definition.versions).baseImage;
  }

  const { id, labels } = await docker.inspect(image);
  const runnerProtocol = labels[RUNNER_PROTOCOL_LABEL] ?? '';
  if (runnerProtocol !== RUNNER_PROTOCOL) {
    // The shipped definition and this backend disagree: never leave it looking usable.
    throw new ImageBuildFailedError(
      'verify',
      `${image} carries ${RUNNER_PROTOCOL_LABEL}=${runnerProtocol || '(none)'}, and this backend speaks ${RUNNER_PROTOCOL}; reinstall @cordon/backend-docker`,
      JSON.stringify(labels),
    );
  }
  return {
    image,
    id,
    mode: chosen.mode,
    reason: chosen.reason,
    base: builtFrom,
    runtimeVersion: labels[RUNTIME_VERSION_LABEL] ?? '',
    runnerProtocol,
    contentHash: labels['dev.cordon.content-hash'] ?? hash,
    nodeVersion: labels['dev.cordon.node-version'] ?? '',
    stripeVersion: labels['dev.cordon.stripe-version'] ?? '',
    durationMs: Math.round(performance.now() - started),
  };
}

/** The base is present, or a pull (bounded by `timeoutMs` when given) brings it. */
async function baseAvailable(
  docker: DockerCli,
  base: string,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
  progress: (line: string) => void,
): Promise<{ ok: true; how: string } | { ok: false; reason: string }> {
  if (await docker.imageExists(base)) return { ok: true, how: `${base} is present locally` };
  progress(`pulling ${base}`);
  const bounded = timeoutMs === undefined ? signal : anySignal(signal, AbortSignal.timeout(timeoutMs));
  const pulling = new DockerCli({ dockerHost: docker.env.DOCKER_HOST, signal: bounded });
  try {
    const pulled = await pulling.pull(base, progress);
    return pulled.ok ? { ok: true, how: `pulled ${base}` } : pulled;
  } catch (error) {
    signal?.throwIfAborted();
    if ((error as Error).name === 'AbortError') return { ok: false, reason: `no answer within ${timeoutMs} ms` };
    throw error;
  }
}

function anySignal(signal: AbortSignal | undefined, timeout: AbortSignal): AbortSignal {
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}
