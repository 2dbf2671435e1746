import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { detectCgroups, type CgroupDriver } from './cgroup.js';
import type { EgressTools } from './egress-netns.js';
import { bubblewrapLauncher, perlLauncher, type Launcher, type LauncherChoice } from './launcher.js';
import { rootLinks } from './sandbox-plan.js';
import { acquireSandboxUser, type SandboxIdChoice } from './sandbox-user.js';
import { debug } from '@cordon/core/backend';

/** What this machine offers the spawn backend; detected once per process and option set. */
export interface HostFacts {
  isRoot: boolean;
  /** What starts kernel-isolated sandboxes: the first of bubblewrap and the perl launcher whose probe passed. */
  launcher: Launcher | undefined;
  /** Unprivileged user namespaces work for the sandbox user (the launcher ran a probe). */
  userNamespaces: boolean;
  /** Why the kernel isolation is not available, when it is not. */
  kernelProblem: string | undefined;
  perlPath: string | undefined;
  setprivPath: string | undefined;
  prlimitPath: string | undefined;
  mountPath: string | undefined;
  cgroups: CgroupDriver | undefined;
  /** What prepares a namespace for an allow-list (egress-netns.ts), or why nothing can. */
  egress: { tools: EgressTools; problem?: undefined } | { tools?: undefined; problem: string };
}

export function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch (error) {
      debug('spawn.host', () => `tool ${path} not executable`, error);
      return false;
    }
  });
}

function binary(name: string): string | undefined {
  return firstExisting([
    `/usr/bin/${name}`,
    `/bin/${name}`,
    `/usr/sbin/${name}`,
    `/sbin/${name}`,
    `/usr/local/bin/${name}`,
  ]);
}

export function defaultPythonPath(): string | undefined {
  const found = firstExisting(['/usr/bin/python3', '/usr/local/bin/python3']);
  return found ? realpathSync(found) : undefined;
}

const cache = new Map<string, Promise<HostFacts>>();

interface DetectOptions {
  bwrapPath?: string | undefined;
  launcher: LauncherChoice;
  sandboxUid: SandboxIdChoice;
  sandboxGid: SandboxIdChoice;
}

export function detectHost(options: DetectOptions): Promise<HostFacts> {
  const key = `${options.launcher}:${options.bwrapPath ?? ''}:${options.sandboxUid}:${options.sandboxGid}`;
  let facts = cache.get(key);
  if (!facts) {
    facts = detect(options);
    cache.set(key, facts);
  }
  return facts;
}

async function detect(options: DetectOptions): Promise<HostFacts> {
  const isRoot = process.getuid?.() === 0;
  const setprivPath = binary('setpriv');
  const perlPath = binary('perl');
  const cgroups = isRoot ? await detectCgroups() : undefined;
  let kernelProblem: string | undefined;
  let launcher: Launcher | undefined;
  if (process.platform !== 'linux') kernelProblem = `namespaces need Linux (this is ${process.platform})`;
  else if (isRoot && !setprivPath)
    kernelProblem = 'setpriv (util-linux) is needed to drop root before creating namespaces';
  else {
    const problems: string[] = [];
    const candidates: Launcher[] = [];
    if (options.launcher !== 'perl') {
      const bwrapPath = options.bwrapPath ?? binary('bwrap');
      if (bwrapPath && existsSync(bwrapPath)) candidates.push(bubblewrapLauncher(bwrapPath));
      else problems.push('bubblewrap (bwrap) is not installed');
    }
    if (options.launcher !== 'bubblewrap') {
      const perl = perlPath ? perlLauncher(perlPath) : 'perl is not installed, so there is no perl launcher';
      if (typeof perl === 'string') problems.push(perl);
      else candidates.push(perl);
    }
    // As a sandbox would run: under a uid of its own (leased for the probe) or the fixed one.
    const user =
      isRoot && candidates.length > 0
        ? await acquireSandboxUser({ uid: options.sandboxUid, gid: options.sandboxGid })
        : undefined;
    try {
      for (const candidate of candidates) {
        const problem = await probeLauncher(
          candidate,
          user ? { setpriv: setprivPath!, uid: user.uid, gid: user.gid } : undefined,
        );
        if (problem === undefined) {
          launcher = candidate;
          break;
        }
        problems.push(problem);
      }
    } finally {
      await user?.release();
    }
    if (!launcher) kernelProblem = problems.join('; ');
  }
  return {
    isRoot,
    launcher,
    userNamespaces: launcher !== undefined,
    kernelProblem,
    perlPath,
    setprivPath,
    prlimitPath: binary('prlimit'),
    mountPath: binary('mount'),
    cgroups,
    egress: detectEgressTools({ isRoot, kernel: launcher !== undefined, setprivPath }),
  };
}

/**
 * The host enters a sandbox's network namespace to route and filter it, which needs
 * root here (an unprivileged host would have to enter the sandbox's user namespace too).
 */
function detectEgressTools(params: {
  isRoot: boolean;
  kernel: boolean;
  /** Found once for the whole host (it also drops root in the advisory isolation). */
  setprivPath: string | undefined;
}): HostFacts['egress'] {
  const { isRoot, kernel } = params;
  if (!kernel) return { problem: 'the advisory isolation has no network namespace to route' };
  if (!isRoot) return { problem: 'routing a sandbox namespace to the egress forwarder needs root' };
  const found = {
    nsenter: binary('nsenter'),
    ip: binary('ip'),
    iptablesRestore: binary('iptables-restore'),
    ip6tablesRestore: binary('ip6tables-restore'),
    setpriv: params.setprivPath,
  };
  const missing = Object.entries(found)
    .filter(([, path]) => path === undefined)
    .map(([name]) => ({ iptablesRestore: 'iptables-restore', ip6tablesRestore: 'ip6tables-restore' })[name] ?? name);
  if (missing.length > 0)
    return {
      problem: `${missing.join(', ')} not installed (apt-get install -y iproute2 iptables util-linux)`,
    };
  return { tools: found as EgressTools };
}

/**
 * Runs the launcher once with every namespace and mount kind the sandbox uses; returns why
 * it failed, if it did. Both launchers get the same arguments.
 */
function probeLauncher(
  launcher: Launcher,
  drop: { setpriv: string; uid: number; gid: number } | undefined,
): Promise<string | undefined> {
  const launcherArgs = [
    launcher.command,
    ...launcher.prefix,
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--ro-bind',
    '/usr',
    '/usr',
    ...rootLinks(),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    '1048576',
    '--tmpfs',
    '/tmp',
    '--remount-ro',
    '/',
    '--',
    '/usr/bin/true',
  ];
  const [command, ...args] = drop
    ? [drop.setpriv, `--reuid=${drop.uid}`, `--regid=${drop.gid}`, '--clear-groups', '--no-new-privs', ...launcherArgs]
    : launcherArgs;
  const name = launcher.kind === 'bubblewrap' ? 'bubblewrap' : "cordon's perl launcher";
  return new Promise((resolve) => {
    const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...launcher.env } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve(`${name} could not start: ${error.message}`));
    child.on('close', (code) => {
      if (code === 0) resolve(undefined);
      else if (launcher.kind === 'bubblewrap' && /unknown option|unrecognized option/i.test(stderr))
        resolve(
          `bubblewrap at ${launcher.command} is too old (0.8 or newer is needed for --disable-userns and --size): ${stderr.trim()}`,
        );
      else resolve(`${name} cannot create the sandbox's namespaces here (${stderr.trim() || `exit ${code}`})`);
    });
  });
}
