import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { LABELS, MANAGED_BY, OWNER_ID } from '@cordon/core/backend';
import { runCommand } from './run-command.js';
import { MISSED, withDeadline } from './deadline.js';
import { checkOutput, commandBaseline, type Participant, type Sample } from './sample.js';
import type { Scenario } from './scenarios.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Labels on every baseline container, so an interrupted run's leftovers can be found and removed. */
const BASELINE_LABELS = {
  [LABELS.managedBy]: MANAGED_BY,
  [LABELS.owner]: OWNER_ID,
  [LABELS.backend]: 'bench-baseline',
};

/** The runtime image `images/runtime/build-offline.sh` builds by default: `cordon-runtime:<version>`. */
export function defaultRuntimeImage(): string {
  try {
    const versions = readFileSync(join(repoRoot, 'images/runtime/versions.env'), 'utf8');
    const version = /^CORDON_RUNTIME_VERSION=(\S+)/m.exec(versions)?.[1];
    if (version) return `cordon-runtime:${version}`;
  } catch {
    // Outside the repository: fall through to the floating tag.
  }
  return 'cordon-runtime:latest';
}

export type DockerAvailability =
  { ok: true; serverVersion: string } | { ok: false; serverVersion: string | null; reason: string };

/** The daemon's version, for the machine record; null without a CLI or a daemon. */
export async function dockerServerVersion(): Promise<string | null> {
  const version = await runCommand('docker', ['version', '--format', '{{.Server.Version}}'], 15_000);
  return version.exitCode === 0 && version.stdout.trim() !== '' ? version.stdout.trim() : null;
}

/** Is there a daemon, and does it hold the image? Says plainly what to run when not. */
export async function detectDocker(image: string): Promise<DockerAvailability> {
  const version = await runCommand('docker', ['version', '--format', '{{.Server.Version}}'], 15_000);
  if (version.error?.includes('ENOENT'))
    return { ok: false, serverVersion: null, reason: 'no docker CLI (run bash scripts/docker-up.sh)' };
  if (version.exitCode !== 0)
    return { ok: false, serverVersion: null, reason: 'no daemon (run bash scripts/docker-up.sh)' };
  const serverVersion = version.stdout.trim();
  const inspect = await runCommand('docker', ['image', 'inspect', '--format', '{{.Id}}', image], 15_000);
  if (inspect.exitCode !== 0)
    return { ok: false, serverVersion, reason: `image ${image} is missing (run bash images/runtime/build-offline.sh)` };
  return { ok: true, serverVersion };
}

function dockerRunArgs(image: string, code: string): string[] {
  const labels = Object.entries(BASELINE_LABELS).flatMap(([key, value]) => ['--label', `${key}=${value}`]);
  return ['run', '--rm', '--network', 'none', ...labels, image, 'node', '-e', code];
}

export function describeDockerRun(image: string): string {
  return `docker run --rm --network none ${image} node -e 'console.log(1)'`;
}

/** `docker run --rm --network none <image> node -e ...` through the CLI: what most people compare with. */
export function dockerRunBaseline(image: string): Participant {
  return commandBaseline(
    'docker-run',
    (scenario) => scenario.name === 'node-hello',
    (scenario) => runCommand('docker', dockerRunArgs(image, scenario.code)),
  );
}

export function describeOriginalApi(image: string): string {
  return `dockerode: createContainer(${image}, node -e, NetworkMode none) → start → wait → logs → remove`;
}

/**
 * The original design's path, one container per call through the Docker API:
 * create, start, wait, read logs, remove. No pool, no streaming.
 */
export function originalApiBaseline(docker: Docker, image: string): Participant {
  return {
    key: 'original-api',
    role: 'baseline',
    settleMs: 0,
    sampleEvery: 1,
    supports: (scenario) => scenario.name === 'node-hello',
    async runOnce(scenario): Promise<Sample> {
      const started = performance.now();
      // A stuck daemon must not hang the run; a container left by a missed deadline carries the owner label.
      const outcome = await withDeadline(originalApiCall(docker, image, scenario, started), 60_000);
      return outcome === MISSED
        ? { ms: performance.now() - started, ok: false, problem: 'the Docker API did not answer within 60 s' }
        : outcome;
    },
  };
}

/** create → start → wait → logs → remove, timed from the first call to the removal. */
async function originalApiCall(docker: Docker, image: string, scenario: Scenario, started: number): Promise<Sample> {
  let container: Docker.Container | undefined;
  try {
    container = await docker.createContainer({
      Image: image,
      Cmd: ['node', '-e', scenario.code],
      Labels: BASELINE_LABELS,
      NetworkDisabled: true,
      HostConfig: { NetworkMode: 'none' },
    });
    await container.start();
    const exit = (await container.wait()) as { StatusCode: number };
    const logs = await container.logs({ stdout: true, stderr: true, follow: false });
    const { stdout, stderr } = demultiplex(logs);
    await container.remove({ force: true });
    container = undefined;
    const ms = performance.now() - started;
    const problem =
      exit.StatusCode === 0
        ? checkOutput(scenario, stdout, stderr.trim())
        : `exit ${exit.StatusCode}: ${stderr.trim().slice(0, 200)}`;
    return problem === undefined ? { ms, ok: true } : { ms, ok: false, problem };
  } catch (error) {
    return {
      ms: performance.now() - started,
      ok: false,
      problem: error instanceof Error ? error.message : String(error),
    };
  } finally {
    if (container) await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Docker's multiplexed log format: 8-byte frame headers (stream type, 0, 0, 0, big-endian size). */
export function demultiplex(buffer: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    const frame = buffer.subarray(offset + 8, offset + 8 + size);
    (stream === 2 ? err : out).push(frame);
    offset += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** Removes every baseline container this process made (there are none unless a run was interrupted). */
export async function removeBaselineContainers(docker: Docker): Promise<number> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.owner}=${OWNER_ID}`, `${LABELS.backend}=bench-baseline`] },
  });
  await Promise.all(
    containers.map((info) =>
      docker
        .getContainer(info.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  return containers.length;
}
