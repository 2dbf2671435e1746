import { hostname } from 'node:os';
import { LABELS, MANAGED_BY, SESSION_ID, type ExecutionLimits } from '@cordon/core';
import type Docker from 'dockerode';
import { BACKEND_NAME } from './docker-client.js';
import { RUNNER_COMMANDS, SANDBOX_USER, WORKDIR, type RunnerKind } from './runtime-image.js';

/** Labels beyond core's: who owns the container, so dead sessions can be reaped. */
export const DOCKER_LABELS = {
  ownerPid: 'cordon.dev/owner-pid',
  ownerHost: 'cordon.dev/owner-host',
  executor: 'cordon.dev/executor',
  pool: 'cordon.dev/pool',
} as const;

/** Everything that decides how a sandbox container is made; two equal specs make interchangeable containers. */
export interface SandboxSpec {
  image: string;
  runtime: string | undefined;
  kind: RunnerKind;
  /**
   * gVisor: the host pids cgroup counts the Sentry's own threads (a low limit kills
   * the sandbox at start, a fork bomb crashes it), while its kernel enforces
   * RLIMIT_NPROC per sandbox. So `pids` becomes RLIMIT_NPROC, and the cgroup limit a
   * host-side backstop above it.
   */
  gvisor: boolean;
  limits: ExecutionLimits;
  network: 'none' | 'open';
  openNetwork: string;
  dns: readonly string[] | undefined;
  executorId: string;
  /** Set for cold containers; pooled ones are made before their execution exists. */
  executionId?: string;
  /**
   * Conformance control runs only: root with CAP_NET_RAW and exec-able tmpfs, so the
   * raw-socket and native-code probes have positive controls. Never used for a
   * caller's execution.
   */
  conformanceControl?: boolean;
}

/** Open files per process inside the sandbox. */
const NOFILE = 1024;
/** Host threads gVisor's Sentry and gofer may need on top of the sandbox's own limit. */
const GVISOR_PIDS_HEADROOM = 512;

/** The hardened, single-use container for one execution. */
export function containerCreateOptions(spec: SandboxSpec): Docker.ContainerCreateOptions {
  const { limits } = spec;
  const disk = Math.floor(limits.diskBytes);
  const control = spec.conformanceControl === true;
  const owner = control ? 'uid=0,gid=0' : 'uid=10001,gid=10001';
  // Controls may load native code (the dlopen probe's control); sandboxes may not.
  const exec = control ? 'exec' : 'noexec';
  const labels: Record<string, string> = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.session]: SESSION_ID,
    [LABELS.backend]: BACKEND_NAME,
    [DOCKER_LABELS.ownerPid]: String(process.pid),
    [DOCKER_LABELS.ownerHost]: hostname(),
    [DOCKER_LABELS.executor]: spec.executorId,
  };
  if (spec.executionId) labels[LABELS.execution] = spec.executionId;
  else labels[DOCKER_LABELS.pool] = spec.kind;

  return {
    Image: spec.image,
    Cmd: [...RUNNER_COMMANDS[spec.kind]],
    User: control ? '0:0' : SANDBOX_USER,
    WorkingDir: WORKDIR,
    Hostname: 'sandbox',
    Labels: labels,
    // Code, files and stdin arrive over the attached stdin; closing it is the program's EOF.
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: spec.network === 'none',
    HostConfig: {
      NetworkMode: spec.network === 'none' ? 'none' : spec.openNetwork,
      ReadonlyRootfs: true,
      // Docker's archive upload cannot write into a tmpfs or a read-only root: the runner unpacks files here itself.
      Tmpfs: {
        [WORKDIR]: `rw,nosuid,nodev,${exec},size=${disk},${owner},mode=0700`,
        '/tmp': `rw,nosuid,nodev,${exec},size=${disk},mode=1777`,
      },
      ShmSize: Math.min(disk, 64 * 1024 * 1024),
      CapDrop: ['ALL'],
      ...(control ? { CapAdd: ['NET_RAW'] } : {}),
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: spec.gvisor ? limits.pids + GVISOR_PIDS_HEADROOM : limits.pids,
      Memory: limits.memoryBytes,
      // Equal to Memory: no swap on top of the limit.
      MemorySwap: limits.memoryBytes,
      NanoCpus: Math.round(limits.cpus * 1e9),
      Ulimits: [
        { Name: 'nofile', Soft: NOFILE, Hard: NOFILE },
        { Name: 'fsize', Soft: disk, Hard: disk },
        // Under runc RLIMIT_NPROC would count every container's uid-10001 processes together; the pids cgroup is per container.
        ...(spec.gvisor ? [{ Name: 'nproc', Soft: limits.pids, Hard: limits.pids }] : []),
      ],
      // Output goes only over the attach stream (capped by the host): no log files on the daemon's disk.
      LogConfig: { Type: 'none', Config: {} },
      AutoRemove: false,
      Privileged: false,
      ...(spec.runtime ? { Runtime: spec.runtime } : {}),
      ...(spec.dns ? { Dns: [...spec.dns] } : {}),
    },
  };
}
