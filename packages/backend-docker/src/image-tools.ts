import { Writable } from 'node:stream';
import { BackendUnavailableError } from '@cordon/core';
import {
  LABELS,
  MANAGED_BY,
  OWNER_ID,
  parseToolsProbe,
  toolsProbeCommand,
  type ImageTools,
} from '@cordon/core/backend';
import { hostname } from 'node:os';
import { BACKEND_NAME } from './backend-name.js';
import { DOCKER_LABELS, MASKED_PATHS } from './container-spec.js';
import type { DockerApi } from './docker-api.js';
import { BUILD_REMEDY } from './runtime-image.js';

/** Output a probe may print that is kept (its report is a line of a few hundred bytes). */
const PROBE_OUTPUT_CAP = 64 * 1024;
/** How long one probe container may take, start to exit. */
const PROBE_TIMEOUT_MS = 30_000;
/** An unprivileged uid for the probe: it only looks at the image's files. */
const PROBE_UID = 65534;

/** Per image id (content, not name): an image's tools never change. */
const cache = new Map<string, Promise<ImageTools>>();

/**
 * What a foreign image holds (node, python3, bash, prlimit, NODE_PATH), found once per
 * image id by running its own node (else its python3) in a container as locked down as
 * a sandbox (no network, read-only, no capabilities, nobody's uid), removed after.
 * @throws BackendUnavailableError when the image has neither interpreter.
 */
export function imageTools(params: { api: DockerApi; image: string; imageId: string }): Promise<ImageTools> {
  const known = cache.get(params.imageId);
  if (known) return known;
  const probing = probe(params);
  cache.set(params.imageId, probing);
  probing.catch(() => cache.delete(params.imageId));
  return probing;
}

async function probe(params: { api: DockerApi; image: string; imageId: string }): Promise<ImageTools> {
  const tried: string[] = [];
  for (const interpreter of ['node', 'python3'] as const) {
    const outcome = await runProbe(params.api, params.imageId, interpreter);
    if (outcome.tools) return outcome.tools;
    tried.push(`${interpreter}: ${outcome.problem}`);
  }
  throw new BackendUnavailableError(
    BACKEND_NAME,
    `the image ${params.image} has neither node nor python3 that cordon can run (${tried.join('; ')})`,
    `Use an image with node and/or python3 on its PATH, or cordon's own: ${BUILD_REMEDY}`,
  );
}

async function runProbe(
  api: DockerApi,
  imageId: string,
  interpreter: 'node' | 'python3',
): Promise<{ tools: ImageTools } | { tools?: undefined; problem: string }> {
  const id = await api.createContainer({
    Image: imageId,
    Entrypoint: toolsProbeCommand(interpreter),
    Cmd: [],
    User: `${PROBE_UID}:${PROBE_UID}`,
    WorkingDir: '/',
    Labels: {
      [LABELS.managedBy]: MANAGED_BY,
      [LABELS.owner]: OWNER_ID,
      [LABELS.backend]: BACKEND_NAME,
      [DOCKER_LABELS.ownerPid]: String(process.pid),
      [DOCKER_LABELS.ownerHost]: hostname(),
    },
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      MaskedPaths: MASKED_PATHS,
      PidsLimit: 64,
      Memory: 256 * 1024 * 1024,
      LogConfig: { Type: 'none', Config: {} },
      AutoRemove: false,
    },
  });
  try {
    let output = '';
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (output.length < PROBE_OUTPUT_CAP) output += chunk.toString('utf8', 0, PROBE_OUTPUT_CAP - output.length);
        callback();
      },
    });
    const stream = await api.attachContainer(id, { stdin: false });
    api.demuxStream(stream, sink, sink);
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.on('error', () => resolve());
    });
    try {
      await api.startContainer(id);
    } catch (error) {
      // "executable file not found": the image has no such interpreter.
      return { problem: error instanceof Error ? firstLine(error.message) : String(error) };
    }
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
    const exitCode = await api.exitCodeOf(id, { signal });
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    if (signal.aborted) return { problem: `no answer within ${PROBE_TIMEOUT_MS} ms` };
    const tools = parseToolsProbe(output);
    if (tools && exitCode === 0) return { tools };
    return { problem: `exit ${exitCode ?? '?'}: ${firstLine(output) || 'no output'}` };
  } finally {
    await api.removeContainer(id);
  }
}

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 300);
}

/** Forgets what was probed (tests). */
export function clearImageToolsCache(): void {
  cache.clear();
}
