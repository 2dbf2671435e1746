import { hostname } from 'node:os';
import { type ExecutionLimits } from '@cordon/core';
import { LABELS, MANAGED_BY, OWNER_ID } from '@cordon/core/backend';
import type Docker from 'dockerode';
import { BACKEND_NAME } from './backend-name.js';
import {
  foreignSupervisorCommand,
  RUNNER_DIR,
  RUNTIME_WORKDIR,
  supervisorCommand,
  EGRESS_PROXY_ENV,
  FORWARDER_PORTS,
  type ImageTools,
  type RunnerKind,
} from '@cordon/core/backend';

/** Labels beyond core's: who owns the container, so what dead owners left can be reaped. */
export const DOCKER_LABELS = {
  ownerPid: 'cordon.dev/owner-pid',
  ownerHost: 'cordon.dev/owner-host',
  executor: 'cordon.dev/executor',
  pool: 'cordon.dev/pool',
  sandboxUid: 'cordon.dev/sandbox-uid',
} as const;

/** Where the broker container and allow-list sandboxes mount the executor's egress volume. */
export const EGRESS_MOUNT = '/egress';

/** Who made a container or volume (core's labels, this process and host, the executor): what the reaper reads. */
export function ownerLabels(executorId: string): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.owner]: OWNER_ID,
    [LABELS.backend]: BACKEND_NAME,
    [DOCKER_LABELS.ownerPid]: String(process.pid),
    [DOCKER_LABELS.ownerHost]: hostname(),
    [DOCKER_LABELS.executor]: executorId,
  };
}

/** Everything that decides how a sandbox container is made; two equal specs make interchangeable containers. */
export interface SandboxSpec {
  image: string;
  /**
   * Set for an image that is not cordon's: its tools, and the runner arrives over
   * stdin at start (see core's foreign-image.ts). Absent: the image's own runner.
   */
  tools?: ImageTools | undefined;
  runtime: string | undefined;
  kind: RunnerKind;
  /**
   * gVisor: the host pids cgroup counts the Sentry's own threads (a low limit kills
   * the sandbox at start, a fork bomb crashes it), while its kernel enforces
   * RLIMIT_NPROC per sandbox. So `pids` becomes RLIMIT_NPROC, set by the supervisor on
   * the program's processes only (gVisor counts root's too), and the cgroup limit a
   * host-side backstop above it.
   */
  gvisor: boolean;
  limits: ExecutionLimits;
  /**
   * The uid the program runs under (the supervisor runs as root and switches to it);
   * its own per container unless the executor shares a fixed one. Ignored for
   * conformance controls, whose programs run as root.
   */
  programUid: number;
  /** `allow`: no network but loopback, where the forwarder relays to the broker session in `egress`. */
  network: 'none' | 'open' | 'allow';
  /** Under `allow`: the executor's egress volume, and this container's session on it (its key and socket). */
  egress?: { readonly volume: string; readonly key: string; readonly socket: string } | undefined;
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
/** Tasks of tini and the supervisor (node: main thread plus its V8 and libuv threads), on top of the program's `pids`. */
const SUPERVISOR_PIDS_HEADROOM = 16;
/** The supervisor's only privileges: switch to the program's uid, and kill what is left of it. */
const SUPERVISOR_CAPABILITIES = ['SETUID', 'SETGID', 'KILL'];

/**
 * Docker's default masked paths (20.10 and later) plus the boot id, which would
 * otherwise be the host's. Setting MaskedPaths replaces the default list, so all of it
 * is here; a path the kernel lacks is skipped by the runtime.
 */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
  '/proc/sys/kernel/random/boot_id',
];

/** The hardened, single-use container for one execution. */
export function containerCreateOptions(spec: SandboxSpec): Docker.ContainerCreateOptions {
  const { limits } = spec;
  const disk = Math.floor(limits.diskBytes);
  const control = spec.conformanceControl === true;
  const programUid = control ? 0 : spec.programUid;
  const owner = `uid=${programUid},gid=${programUid}`;
  // Controls may load native code (the dlopen probe's control); sandboxes may not.
  const exec = control ? 'exec' : 'noexec';
  const labels: Record<string, string> = {
    ...ownerLabels(spec.executorId),
    [DOCKER_LABELS.sandboxUid]: String(programUid),
  };
  if (spec.executionId) labels[LABELS.execution] = spec.executionId;
  else labels[DOCKER_LABELS.pool] = spec.kind;

  const tmpfs: Record<string, string> = {
    [RUNTIME_WORKDIR]: `rw,nosuid,nodev,${exec},size=${disk},${owner},mode=0700`,
    '/tmp': `rw,nosuid,nodev,${exec},size=${disk},mode=1777`,
  };
  // Every devpts instance on a kernel shares kernel.pty.max, so one container could take
  // every pseudo-terminal of the machine: an empty read-only tmpfs hides this one's
  // (/dev/ptmx links into it). gVisor's terminals are its own, and it mishandles a
  // mount over /dev/pts, so it keeps them.
  if (!spec.gvisor) tmpfs['/dev/pts'] = 'ro,nosuid,nodev,noexec,size=4k,mode=0555';
  // A foreign image's runner is written here by its bootstrap (root's, read-only to the program).
  if (spec.tools) tmpfs[RUNNER_DIR] = 'rw,nosuid,nodev,noexec,size=4m,mode=0755';
  const hostConfig = hostConfigOf(spec, tmpfs, control, disk);
  // RLIMIT_NPROC only under gVisor, where it is the per-sandbox pids limit (see SandboxSpec.gvisor);
  // the supervisor sets it on the program's processes alone.
  const nproc = spec.gvisor ? limits.pids : undefined;

  return {
    Image: spec.image,
    // A foreign image's own entrypoint is replaced by its interpreter running cordon's bootstrap.
    ...(spec.tools
      ? {
          Entrypoint: foreignSupervisorCommand({ tools: spec.tools, kind: spec.kind, programUid, nproc }),
          Cmd: [],
          // The image's own NODE_OPTIONS would load code into the root supervisor (the program's environment is the request's).
          Env: ['NODE_OPTIONS='],
        }
      : {
          Cmd: supervisorCommand({ kind: spec.kind, programUid, nproc, egressSocket: spec.egress?.socket }),
          // For the booted node, which reads them at start-up (NODE_USE_ENV_PROXY); the supervisor
          // strips the prefix. The program gets them in its job's env.
          ...(spec.network === 'allow'
            ? { Env: Object.entries(EGRESS_PROXY_ENV).map(([name, value]) => `CORDON_BOOT_ENV_${name}=${value}`) }
            : {}),
        }),
    // Root for the supervisor, with nothing but SUPERVISOR_CAPABILITIES; the program runs as programUid.
    User: '0:0',
    WorkingDir: '/',
    Hostname: 'sandbox',
    Labels: labels,
    // Code, files and stdin arrive over the attached stdin, which then stays open as the host's liveness (protocol 3).
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: spec.network !== 'open',
    HostConfig: hostConfig,
  };
}

function hostConfigOf(
  spec: SandboxSpec,
  tmpfs: Record<string, string>,
  control: boolean,
  disk: number,
): HostConfigWithCgroupns {
  const { limits } = spec;
  return {
    NetworkMode: spec.network === 'open' ? spec.openNetwork : 'none',
    ...(spec.network === 'allow' ? egressHostConfig(spec) : {}),
    ReadonlyRootfs: true,
    // Docker's archive upload cannot write into a tmpfs or a read-only root: the supervisor unpacks files here itself.
    Tmpfs: tmpfs,
    ShmSize: Math.min(disk, 64 * 1024 * 1024),
    CapDrop: ['ALL'],
    CapAdd: control ? ['NET_RAW'] : SUPERVISOR_CAPABILITIES,
    SecurityOpt: ['no-new-privileges'],
    // Its own cgroup namespace: /proc/self/cgroup shows "/", not the container id.
    CgroupnsMode: 'private',
    MaskedPaths: MASKED_PATHS,
    PidsLimit: limits.pids + (spec.gvisor ? GVISOR_PIDS_HEADROOM : SUPERVISOR_PIDS_HEADROOM),
    Memory: limits.memoryBytes,
    // Equal to Memory: no swap on top of the limit.
    MemorySwap: limits.memoryBytes,
    NanoCpus: Math.round(limits.cpus * 1e9),
    Ulimits: [
      { Name: 'nofile', Soft: NOFILE, Hard: NOFILE },
      { Name: 'fsize', Soft: disk, Hard: disk },
    ],
    // Output goes only over the attach stream (capped by the host): no log files on the daemon's disk.
    LogConfig: { Type: 'none', Config: {} },
    // Gone as soon as it exits, even when its owner died first and no cordon process runs
    // again on this daemon (its supervisor exits when the attach closes, see protocol 3).
    // The exit status and OOM kills come from the events stream (ContainerExits).
    AutoRemove: true,
    Privileged: false,
    // A foreign image has no tini: Docker's init is PID 1 there, so orphans are reaped
    // (the supervisor's sweep waits for /proc to empty) and signals reach the supervisor.
    ...(spec.tools ? { Init: true } : {}),
    ...(spec.runtime ? { Runtime: spec.runtime } : {}),
    ...(spec.dns && spec.network !== 'allow' ? { Dns: [...spec.dns] } : {}),
  };
}

/**
 * An allow-list's container: the egress volume read-only (a unix socket connects on a
 * read-only mount; the session's directory admits only this container's group), and
 * the resolver on its own loopback, where the forwarder answers, as an unprivileged
 * uid (the sysctl; gVisor's netstack does not restrict low ports).
 */
function egressHostConfig(spec: SandboxSpec): Partial<Docker.HostConfig> {
  if (!spec.egress) throw new Error('an allow-list container needs the egress volume and its session socket');
  return {
    Mounts: [{ Type: 'volume', Source: spec.egress.volume, Target: EGRESS_MOUNT, ReadOnly: true }],
    Dns: ['127.0.0.1'],
    DnsSearch: ['.'],
    ...(spec.gvisor ? {} : { Sysctls: { 'net.ipv4.ip_unprivileged_port_start': String(FORWARDER_PORTS.dns) } }),
  };
}

/** dockerode's types predate CgroupnsMode (API 1.41, Docker 20.10). */
type HostConfigWithCgroupns = Docker.HostConfig & { CgroupnsMode?: 'private' | 'host' };
