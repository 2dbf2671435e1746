import { lstatSync, readlinkSync } from 'node:fs';
import { basename, dirname, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Language, NormalizedRequest } from '@cordon/core';
import { runnerArgs } from './runner.js';

/** Inside the kernel tier's sandbox. */
export const SANDBOX_ROOT = '/sandbox';
export const SANDBOX_WORKDIR = '/sandbox/work';
const SANDBOX_TMP = '/sandbox/tmp';
const CORDON_DIR = '/cordon';
/** Inside uid/gid; matches the package's etc/passwd whatever host user it maps to. */
const INSIDE_ID = '65534';

export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';

export const GUARD_FILE = fileURLToPath(new URL('./network-guard.cjs', import.meta.url));
const ETC_DIR = fileURLToPath(new URL('../etc/', import.meta.url));

const PROGRAM_FILE: Record<Language, string> = { node: 'main.js', python: 'main.py', bash: 'main.sh' };

/** Host files that runtimes read from /etc; nothing secret. */
const ETC_FROM_HOST = ['/etc/ld.so.cache', '/etc/alternatives', '/etc/localtime', '/etc/ssl/certs', '/etc/ssl/openssl.cnf', '/etc/ca-certificates.conf'];
/** Only for `network: 'open'`, where names must resolve. */
const ETC_FOR_OPEN_NETWORK = ['/etc/resolv.conf', '/etc/gai.conf'];

/** Everything about how one execution is started. */
export interface SandboxPlan {
  command: string;
  args: string[];
  /** Environment of the host-side wrapper processes; the program's own comes over the control socket. */
  env: Record<string, string>;
  cwd: string | undefined;
  /** Written, in order, to stdio fds `firstDataFd`, `firstDataFd + 1`, ... */
  dataFds: Uint8Array[];
  firstDataFd: number;
  /** bubblewrap reports the sandbox init's host pid on this fd. */
  statusFd: number | undefined;
  /** Own process group, so the advisory tier can kill it as a whole. */
  detached: boolean;
  /** What the program sees. */
  programEnv: Record<string, string>;
}

export interface Interpreters {
  node: string;
  python: string | undefined;
  bash: string;
  perl: string;
}

export interface PlanInput {
  request: NormalizedRequest;
  interpreters: Interpreters;
  packageDirs: readonly string[];
  /** Prefix run as root before the sandbox: cgroup attach, privilege drop, rlimits. */
  wrapper: string[];
  marker: string;
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

/** Variables the program sees: a minimal PATH and HOME, the caller's, and the wiring for the guard and packages. */
export function programEnv(request: NormalizedRequest, paths: { home: string; tmp: string | undefined; guard: string | undefined; packages: readonly string[] }): Record<string, string> {
  const env: Record<string, string> = { PATH: SANDBOX_PATH, HOME: paths.home, ...(paths.tmp ? { TMPDIR: paths.tmp } : {}), ...request.env };
  if (paths.guard) {
    const flag = `--require ${paths.guard}`;
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
function rootLinks(): string[] {
  const args: string[] = [];
  for (const name of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      const stat = lstatSync(name);
      if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(name), name);
      else if (stat.isDirectory()) args.push('--ro-bind', name, name);
    } catch {
      // Absent on this host.
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

/** The kernel tier: bubblewrap with new user, pid, ipc, uts, cgroup (and net) namespaces. */
export function kernelPlan(input: PlanInput & { bwrapPath: string; collect: boolean }): SandboxPlan {
  const { request, interpreters } = input;
  const none = request.network.mode === 'none';
  const firstDataFd = input.collect ? 5 : 4;
  const dataFds: Uint8Array[] = [];
  const nextFd = (data: Uint8Array) => String(firstDataFd + dataFds.push(data) - 1);

  const args = [
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', ...(none ? ['--unshare-net'] : []),
    '--disable-userns', '--uid', INSIDE_ID, '--gid', INSIDE_ID, '--hostname', 'cordon',
    // The runner is the namespace's init: one fork less, and code inside cannot signal it.
    '--as-pid-1', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--ro-bind', '/usr', '/usr', ...rootLinks(),
    '--proc', '/proc', '--dev', '/dev',
    '--dir', '/etc',
    ...['passwd', 'group', 'hosts', 'nsswitch.conf'].flatMap((name) => ['--ro-bind', ETC_DIR + name, `/etc/${name}`]),
    ...[...ETC_FROM_HOST, ...(none ? [] : ETC_FOR_OPEN_NETWORK)].flatMap((path) => ['--ro-bind-try', path, path]),
    ...interpreterBinds([interpreters.node, interpreters.python]),
    '--size', String(request.limits.diskBytes), '--tmpfs', SANDBOX_ROOT,
    '--dir', SANDBOX_WORKDIR, '--dir', SANDBOX_TMP, '--symlink', SANDBOX_TMP, '/tmp',
  ];
  const dirs = new Set<string>();
  for (const path of request.files.keys()) {
    for (let dir = posix.dirname(path); dir !== '.' && !dirs.has(dir); dir = posix.dirname(dir)) dirs.add(dir);
  }
  for (const dir of [...dirs].sort()) args.push('--dir', `${SANDBOX_WORKDIR}/${dir}`);
  for (const [path, content] of request.files) args.push('--perms', '0644', '--file', nextFd(content), `${SANDBOX_WORKDIR}/${path}`);

  const packages: string[] = [];
  let nodeModulesBound = false;
  input.packageDirs.forEach((dir, index) => {
    const target = `/packages/${index}`;
    args.push('--ro-bind', dir, target);
    packages.push(target);
    // ESM `import` ignores NODE_PATH but walks up from the program file: /cordon/node_modules.
    if (!nodeModulesBound && basename(dir) === 'node_modules') {
      args.push('--ro-bind', dir, `${CORDON_DIR}/node_modules`);
      nodeModulesBound = true;
    }
  });

  const guard = none ? `${CORDON_DIR}/network-guard.cjs` : undefined;
  const program = `${CORDON_DIR}/${PROGRAM_FILE[request.language]}`;
  args.push('--dir', CORDON_DIR);
  if (guard) args.push('--ro-bind', GUARD_FILE, guard);
  args.push('--perms', '0444', '--file', nextFd(Buffer.from(request.code, 'utf8')), program);
  args.push('--remount-ro', '/', '--chdir', SANDBOX_WORKDIR);
  if (input.collect) args.push('--json-status-fd', '4');
  args.push('--', ...runnerArgs(interpreters.perl, input.collect), interpreterFor(request.language, interpreters), program);

  return {
    command: input.wrapper[0] ?? input.bwrapPath,
    args: [...input.wrapper.slice(1), ...(input.wrapper.length > 0 ? [input.bwrapPath] : []), ...args],
    env: { PATH: SANDBOX_PATH, CORDON_SPAWN_SESSION: input.marker },
    cwd: '/',
    dataFds,
    firstDataFd,
    statusFd: input.collect ? 4 : undefined,
    detached: false,
    programEnv: programEnv(request, { home: SANDBOX_WORKDIR, tmp: undefined, guard, packages }),
  };
}

/** The advisory tier: no namespaces; a private directory, a dropped uid, the guard. */
export function advisoryPlan(input: PlanInput & { dir: string; guardCopy: string }): SandboxPlan {
  const { request, interpreters } = input;
  const none = request.network.mode === 'none';
  const program = `${input.dir}/${PROGRAM_FILE[request.language]}`;
  const runner = [...runnerArgs(interpreters.perl, false), interpreterFor(request.language, interpreters), program];
  const [command, ...args] = [...input.wrapper, ...runner] as [string, ...string[]];
  return {
    command,
    args,
    env: { PATH: SANDBOX_PATH, CORDON_SPAWN_SESSION: input.marker },
    cwd: `${input.dir}/work`,
    dataFds: [],
    firstDataFd: 4,
    statusFd: undefined,
    detached: true,
    programEnv: programEnv(request, { home: `${input.dir}/work`, tmp: `${input.dir}/tmp`, guard: none ? input.guardCopy : undefined, packages: input.packageDirs }),
  };
}

export { PROGRAM_FILE };
