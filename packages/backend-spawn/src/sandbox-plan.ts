import { lstatSync, readlinkSync } from 'node:fs';
import { basename, dirname, posix } from 'node:path';
import type { Language, NormalizedRequest } from '@cordon/core';
import { launcherCommand, type Launcher } from './launcher.js';
import { runnerArgs, runnerEnv } from './runner.js';
import type { RunnerJob } from './runner-records.js';
import {
  BOOT_SOURCE,
  DISPATCHER_SOURCE,
  ETC_FILES,
  GUARD_SOURCE,
  PROXY_AGENT_SOURCE,
  sandboxBootId,
} from './sandbox-data.js';
import { seccompProgram } from './seccomp.js';
import { debug, EGRESS_PROXY_ENV } from '@cordon/core/backend';

/** Inside the kernel isolation's sandbox. */
export const SANDBOX_ROOT = '/sandbox';
export const SANDBOX_WORKDIR = '/sandbox/work';
const SANDBOX_TMP = '/sandbox/tmp';
const CORDON_DIR = '/cordon';
/** Inside uid/gid; matches the package's etc/passwd whatever host user it maps to. */
const INSIDE_ID = '65534';

export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';

const PROGRAM_FILE: Record<Language, string> = { node: 'main.js', python: 'main.py', bash: 'main.sh' };

/** Host files that runtimes read from /etc; nothing secret. */
const ETC_FROM_HOST = [
  '/etc/ld.so.cache',
  '/etc/alternatives',
  '/etc/localtime',
  '/etc/ssl/certs',
  '/etc/ssl/openssl.cnf',
  '/etc/ca-certificates.conf',
];

/** How one sandbox process is started; what it runs comes later as a `RunnerJob`. */
export interface SandboxPlan {
  command: string;
  args: string[];
  /** Environment of the host-side wrapper processes; the program's own comes over the runner socket. */
  env: Record<string, string>;
  cwd: string | undefined;
  /** bubblewrap reports the sandbox init's host pid on this fd. */
  statusFd: number | undefined;
  /** Data bubblewrap reads from these fds (the seccomp filter, files given as contents), each written and closed at spawn. */
  inputs: readonly PlanInputData[];
  /** Own process group, so the advisory isolation can kill it as a whole. */
  detached: boolean;
  /** Drop root to this user at spawn (libuv clears supplementary groups too); bubblewrap then sets no-new-privileges. */
  user?: { uid: number; gid: number };
}

export interface PlanInputData {
  fd: number;
  content: Buffer;
}

export interface Interpreters {
  node: string;
  python: string | undefined;
  bash: string;
  perl: string;
}

/** What a kernel-isolated sandbox is fixed to when it starts; everything else is per job. */
export interface SandboxShape {
  /** `allow`: a namespace of its own like `none`, which the host then routes to its egress forwarder (egress-netns.ts). */
  network: 'none' | 'open' | 'allow';
  diskBytes: number;
  /** Start Node at once on the boot script, waiting for a node job (the pool). */
  prebootNode?: boolean;
}

export interface PlanInput {
  interpreters: Interpreters;
  packageDirs: readonly string[];
  /** Prefix run before the sandbox: privilege drop (advisory), rlimits (no cgroups). */
  wrapper: string[];
  /** The sandbox user when the host process is root. */
  user: { uid: number; gid: number } | undefined;
  /** `<owner>/<id>`, in the wrapper processes' environment, for leak checks. */
  marker: string;
  /** The contents of /etc/resolv.conf in place of the host's (kernel isolation). */
  resolvConf?: Buffer | undefined;
}

function interpreterFor(language: Language, interpreters: Interpreters): string {
  switch (language) {
    case 'node':
      return interpreters.node;
    case 'python':
      if (!interpreters.python) throw new Error('no python3 interpreter was found on this host');
      return interpreters.python;
    case 'bash':
      return interpreters.bash;
  }
}

/**
 * Variables the program sees: a minimal PATH and HOME, the caller's, and the wiring for
 * the Node preload (the network guard under `none`, the egress dispatcher under an
 * allow-list) and packages.
 */
export function programEnv(
  request: NormalizedRequest,
  paths: { home: string; tmp: string | undefined; preload: string | undefined; packages: readonly string[] },
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH,
    HOME: paths.home,
    ...(paths.tmp ? { TMPDIR: paths.tmp } : {}),
    ...(request.network.mode === 'allow' ? EGRESS_PROXY_ENV : {}),
    ...request.env,
  };
  if (paths.preload) {
    const flag = `--require ${paths.preload}`;
    env.NODE_OPTIONS = env.NODE_OPTIONS ? `${flag} ${env.NODE_OPTIONS}` : flag;
  }
  if (paths.packages.length > 0) {
    for (const name of ['NODE_PATH', 'PYTHONPATH']) {
      env[name] = [...paths.packages, ...(env[name] ? [env[name]] : [])].join(':');
    }
  }
  return env;
}

/** `/usr`-merged hosts have symlinks for these; older layouts have directories. */
export function rootLinks(): string[] {
  const args: string[] = [];
  for (const name of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      const stat = lstatSync(name);
      if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(name), name);
      else if (stat.isDirectory()) args.push('--ro-bind', name, name);
    } catch (error) {
      // Absent on this host.
      debug('spawn.plan', () => `root link ${name}`, error);
    }
  }
  return args;
}

/** Binds the install prefix of an interpreter that lives outside /usr (nvm, pyenv, a tarball). */
function interpreterBinds(paths: readonly (string | undefined)[]): string[] {
  const args: string[] = [];
  for (const path of paths) {
    if (!path || path.startsWith('/usr/') || path.startsWith('/bin/')) continue;
    const prefix = dirname(dirname(path));
    args.push('--ro-bind', prefix, prefix);
  }
  return args;
}

const PACKAGES_DIR = '/packages';
/** fds 0-2 are stdio, 3 the runner socket, 4 bubblewrap's status. */
const FIRST_INPUT_FD = 5;
/** Compiled once: the same filter goes to every sandbox. */
const SECCOMP_PROGRAM = seccompProgram();
const GUARD_IN_SANDBOX = `${CORDON_DIR}/network-guard.cjs`;
/** Under an allow-list the only resolver is the egress forwarder's, on the namespace's loopback. */
const EGRESS_RESOLV_CONF = Buffer.from('nameserver 127.0.0.1\noptions attempts:1 timeout:2\n');
const BOOT_IN_SANDBOX = `${CORDON_DIR}/node-boot.cjs`;
const DISPATCHER_IN_SANDBOX = `${CORDON_DIR}/egress-dispatcher.cjs`;
/** Beside the dispatcher, which loads it by that name. */
const PROXY_AGENT_IN_SANDBOX = `${CORDON_DIR}/undici-proxy-agent.cjs`;

/** The Node preload of a network mode: `--require`d by every Node process in the sandbox. */
function nodePreload(mode: NormalizedRequest['network']['mode']): string | undefined {
  if (mode === 'none') return GUARD_IN_SANDBOX;
  if (mode === 'allow') return DISPATCHER_IN_SANDBOX;
  return undefined;
}

/** Mount points of the package directories inside the kernel isolation's sandbox. */
export function packageTargets(packageDirs: readonly string[]): string[] {
  return packageDirs.map((_, index) => `${PACKAGES_DIR}/${index}`);
}

/** Hands out the fds bubblewrap reads data from, in argument order. */
class InputFds {
  readonly inputs: PlanInputData[] = [];

  add(content: Buffer): string {
    const fd = FIRST_INPUT_FD + this.inputs.length;
    this.inputs.push({ fd, content });
    return String(fd);
  }

  /** A read-only file of the root, copied from a pipe: no mount, so no host path in the mount table. */
  file(content: Buffer, path: string): string[] {
    return ['--perms', '0444', '--file', this.add(content), path];
  }
}

/**
 * The kernel isolation, in bubblewrap's arguments (which the perl launcher reads too): new user, pid, ipc, uts, cgroup (and net)
 * namespaces, a read-only minimal root, and one sized tmpfs holding the working
 * directory, /tmp and the program. The runner is the namespace's init.
 */
export function kernelPlan(input: PlanInput & { launcher: Launcher; shape: SandboxShape }): SandboxPlan {
  const { interpreters, shape } = input;
  const none = shape.network === 'none';
  const allow = shape.network === 'allow';
  const open = shape.network === 'open';
  const fds = new InputFds();
  const seccomp = SECCOMP_PROGRAM ? ['--seccomp', fds.add(SECCOMP_PROGRAM)] : [];
  const resolvConf = allow ? EGRESS_RESOLV_CONF : input.resolvConf;
  const hostEtc = [
    ...ETC_FROM_HOST,
    ...(open && !input.resolvConf ? ['/etc/resolv.conf'] : []),
    ...(open ? ['/etc/gai.conf'] : []),
  ];
  const args = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(open ? [] : ['--unshare-net']),
    '--disable-userns',
    '--uid',
    INSIDE_ID,
    '--gid',
    INSIDE_ID,
    '--hostname',
    'cordon',
    // The runner is the namespace's init: one fork less, and code inside cannot signal it.
    '--as-pid-1',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--ro-bind',
    '/usr',
    '/usr',
    ...rootLinks(),
    '--proc',
    '/proc',
    '--ro-bind-data',
    fds.add(sandboxBootId()),
    '/proc/sys/kernel/random/boot_id',
    '--dev',
    '/dev',
    // Every devpts instance draws on the one kernel.pty.max: no pseudo-terminals (/dev/ptmx leads nowhere).
    '--tmpfs',
    '/dev/pts',
    '--remount-ro',
    '/dev/pts',
    '--size',
    String(shape.diskBytes),
    '--tmpfs',
    '/dev/shm',
    '--remount-ro',
    '/dev',
    '--dir',
    '/etc',
    ...[...ETC_FILES].flatMap(([name, content]) => fds.file(content, `/etc/${name}`)),
    ...hostEtc.flatMap((path) => ['--ro-bind-try', path, path]),
    ...(resolvConf ? fds.file(resolvConf, '/etc/resolv.conf') : []),
    ...interpreterBinds([interpreters.node, interpreters.python]),
    '--size',
    String(shape.diskBytes),
    '--tmpfs',
    SANDBOX_ROOT,
    '--dir',
    SANDBOX_WORKDIR,
    '--dir',
    SANDBOX_TMP,
    '--symlink',
    SANDBOX_TMP,
    '/tmp',
  ];
  const targets = packageTargets(input.packageDirs);
  let nodeModulesBound = false;
  input.packageDirs.forEach((dir, index) => {
    args.push('--ro-bind', dir, targets[index]!);
    // ESM `import` ignores NODE_PATH but walks up from the program file (/sandbox/main.js).
    if (!nodeModulesBound && basename(dir) === 'node_modules') {
      args.push('--ro-bind', dir, `${SANDBOX_ROOT}/node_modules`);
      nodeModulesBound = true;
    }
  });
  if (none || allow || shape.prebootNode) args.push('--dir', CORDON_DIR);
  if (none) args.push(...fds.file(GUARD_SOURCE, GUARD_IN_SANDBOX));
  if (allow) {
    args.push(...fds.file(DISPATCHER_SOURCE, DISPATCHER_IN_SANDBOX));
    args.push(...fds.file(PROXY_AGENT_SOURCE, PROXY_AGENT_IN_SANDBOX));
  }
  if (shape.prebootNode) args.push(...fds.file(BOOT_SOURCE, BOOT_IN_SANDBOX));
  args.push('--remount-ro', '/', '--chdir', SANDBOX_WORKDIR, '--json-status-fd', '4', ...seccomp);
  // Under an allow-list Node reads its proxy settings at start-up (NODE_USE_ENV_PROXY): the booted one gets the job's.
  const preload = nodePreload(shape.network);
  const preboot = shape.prebootNode
    ? {
        node: interpreters.node,
        bootScript: BOOT_IN_SANDBOX,
        nodeOptions: preload ? `--require ${preload}` : '',
        ...(allow ? { env: EGRESS_PROXY_ENV } : {}),
      }
    : undefined;
  args.push('--', ...runnerArgs(interpreters.perl, preboot));

  return {
    ...launcherCommand(input.launcher, input.wrapper, args),
    env: {
      PATH: SANDBOX_PATH,
      CORDON_SPAWN_OWNER: input.marker,
      ...input.launcher.env,
      ...runnerEnv({ pidNamespaceInit: true }),
    },
    cwd: '/',
    statusFd: 4,
    inputs: fds.inputs,
    detached: false,
    ...(input.user ? { user: input.user } : {}),
  };
}

/** The job for a kernel-isolated sandbox: the request's files, the program, its env and argv. */
export function kernelJob(
  request: NormalizedRequest,
  interpreters: Interpreters,
  packageDirs: readonly string[],
): RunnerJob {
  const dirs = new Set<string>();
  for (const path of request.files.keys()) {
    for (let dir = posix.dirname(path); dir !== '.' && !dirs.has(dir); dir = posix.dirname(dir)) dirs.add(dir);
  }
  const program = `${SANDBOX_ROOT}/${PROGRAM_FILE[request.language]}`;
  const files = new Map<string, Uint8Array>([[program, Buffer.from(request.code, 'utf8')]]);
  for (const [path, content] of request.files) files.set(`${SANDBOX_WORKDIR}/${path}`, content);
  return {
    dirs: [...dirs].sort().map((dir) => `${SANDBOX_WORKDIR}/${dir}`),
    files,
    env: programEnv(request, {
      home: SANDBOX_WORKDIR,
      tmp: undefined,
      preload: nodePreload(request.network.mode),
      packages: packageTargets(packageDirs),
    }),
    argv: [interpreterFor(request.language, interpreters), program],
    hold: request.collectFiles.length > 0,
  };
}

/** The advisory isolation: no namespaces; a private directory, a dropped uid, the guard. */
export function advisoryPlan(input: PlanInput & { dir: string }): SandboxPlan {
  const [command, ...args] = [...input.wrapper, ...runnerArgs(input.interpreters.perl)] as [string, ...string[]];
  return {
    command,
    args,
    env: { PATH: SANDBOX_PATH, CORDON_SPAWN_OWNER: input.marker, ...runnerEnv({ pidNamespaceInit: false }) },
    cwd: `${input.dir}/work`,
    statusFd: undefined,
    inputs: [],
    detached: true,
  };
}

/** The advisory job: files are already in the host directory; only env and argv travel. */
export function advisoryJob(
  request: NormalizedRequest,
  interpreters: Interpreters,
  packageDirs: readonly string[],
  dir: string,
  guardCopy: string,
): RunnerJob {
  return {
    dirs: [],
    files: new Map(),
    env: programEnv(request, {
      home: `${dir}/work`,
      tmp: `${dir}/tmp`,
      // An allow-list is refused in the advisory isolation: only the guard is ever preloaded here.
      preload: request.network.mode === 'none' ? guardCopy : undefined,
      packages: packageDirs,
    }),
    argv: [interpreterFor(request.language, interpreters), `${dir}/${PROGRAM_FILE[request.language]}`],
    hold: request.collectFiles.length > 0,
  };
}

export { GUARD_FILE } from './sandbox-data.js';
export { PROGRAM_FILE };
