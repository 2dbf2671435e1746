import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { detectCgroups, type CgroupDriver } from './cgroup.js';
import { acquireSandboxUser, type SandboxIdChoice } from './sandbox-user.js';
import { debug } from '@cordon/core/backend';

/** What this machine offers the spawn backend; detected once per process and option set. */
export interface HostFacts {
  isRoot: boolean;
  bwrapPath: string | undefined;
  /** Unprivileged user namespaces work for the sandbox user (bubblewrap ran a probe). */
  userNamespaces: boolean;
  /** Why the kernel isolation is not available, when it is not. */
  kernelProblem: string | undefined;
  perlPath: string | undefined;
  setprivPath: string | undefined;
  prlimitPath: string | undefined;
  mountPath: string | undefined;
  cgroups: CgroupDriver | undefined;
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
  sandboxUid: SandboxIdChoice;
  sandboxGid: SandboxIdChoice;
}

export function detectHost(options: DetectOptions): Promise<HostFacts> {
  const key = `${options.bwrapPath ?? ''}:${options.sandboxUid}:${options.sandboxGid}`;
  let facts = cache.get(key);
  if (!facts) {
    facts = detect(options);
    cache.set(key, facts);
  }
  return facts;
}

async function detect(options: DetectOptions): Promise<HostFacts> {
  const isRoot = process.getuid?.() === 0;
  const bwrapPath = options.bwrapPath ?? binary('bwrap');
  const setprivPath = binary('setpriv');
  const cgroups = isRoot ? await detectCgroups() : undefined;
  let kernelProblem: string | undefined;
  if (process.platform !== 'linux') kernelProblem = `namespaces need Linux (this is ${process.platform})`;
  else if (!bwrapPath || !existsSync(bwrapPath)) kernelProblem = 'bubblewrap (bwrap) is not installed';
  else if (isRoot && !setprivPath)
    kernelProblem = 'setpriv (util-linux) is needed to drop root before creating namespaces';
  else if (!isRoot) kernelProblem = await probeUserNamespaces(bwrapPath, undefined);
  else {
    // As a sandbox would run: under a uid of its own (leased for the probe) or the fixed one.
    const user = await acquireSandboxUser({ uid: options.sandboxUid, gid: options.sandboxGid });
    try {
      kernelProblem = await probeUserNamespaces(bwrapPath, { setpriv: setprivPath!, uid: user.uid, gid: user.gid });
    } finally {
      await user.release();
    }
  }
  return {
    isRoot,
    bwrapPath,
    userNamespaces: kernelProblem === undefined,
    kernelProblem,
    perlPath: binary('perl'),
    setprivPath,
    prlimitPath: binary('prlimit'),
    mountPath: binary('mount'),
    cgroups,
  };
}

/** Runs bubblewrap once with every namespace the sandbox uses; returns why it failed, if it did. */
function probeUserNamespaces(
  bwrapPath: string,
  drop: { setpriv: string; uid: number; gid: number } | undefined,
): Promise<string | undefined> {
  const bwrapArgs = [
    bwrapPath,
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--ro-bind',
    '/',
    '/',
    '--',
    '/bin/true',
  ];
  const [command, ...args] = drop
    ? [drop.setpriv, `--reuid=${drop.uid}`, `--regid=${drop.gid}`, '--clear-groups', '--no-new-privs', ...bwrapArgs]
    : bwrapArgs;
  return new Promise((resolve) => {
    const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'], env: {} });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve(`bubblewrap could not start: ${error.message}`));
    child.on('close', (code) => {
      if (code === 0) resolve(undefined);
      else if (/unknown option|unrecognized option/i.test(stderr))
        resolve(
          `bubblewrap at ${bwrapPath} is too old (0.8 or newer is needed for --disable-userns and --size): ${stderr.trim()}`,
        );
      else resolve(`bubblewrap cannot create user namespaces here (${stderr.trim() || `exit ${code}`})`);
    });
  });
}
