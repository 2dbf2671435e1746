import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { perlLauncher } from '@cordon/backend-spawn';
import type { BaselineName } from './results.js';
import { runCommand } from './run-command.js';
import { commandBaseline, type Participant } from './sample.js';
import type { Scenario } from './scenarios.js';

type HostBaseline = Extract<BaselineName, 'host-node' | 'host-python' | 'host-bash'>;

/**
 * The environment of a bare baseline: what a sandbox gets, not the harness's own.
 * Variables such as NODE_EXTRA_CA_CERTS or NODE_OPTIONS slow every Node start
 * (NODE_EXTRA_CA_CERTS alone about doubled `node -e` here), which would flatter
 * every backend that clears the environment.
 */
export const BARE_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: homedir(),
  LANG: 'C.UTF-8',
};

/** The interpreter and flag each host baseline spawns; the same binaries a bare spawn would use. */
function hostCommand(baseline: HostBaseline): [string, string] {
  switch (baseline) {
    case 'host-node':
      return [process.execPath, '-e'];
    case 'host-python':
      return [existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', '-c'];
    case 'host-bash':
      return [existsSync('/bin/bash') ? '/bin/bash' : 'bash', '-c'];
  }
}

export function describeHostBaseline(baseline: HostBaseline, scenario: Scenario): string {
  const [command, flag] = hostCommand(baseline);
  return `${command} ${flag} '${scenario.name === 'node-json' ? '<node-json program>' : scenario.code}'`;
}

/** Spawns the interpreter bare on the host: no sandbox, the floor every backend is compared with. */
export function hostBaseline(baseline: HostBaseline): Participant {
  const [command, flag] = hostCommand(baseline);
  return commandBaseline(
    baseline,
    (scenario) => scenario.hostBaseline === baseline,
    (scenario) => runCommand(command, [flag, scenario.code], 60_000, BARE_ENV),
  );
}

export const HOST_BASELINES: readonly HostBaseline[] = ['host-node', 'host-python', 'host-bash'];

const BWRAP_ARGS = [
  '--unshare-all',
  '--die-with-parent',
  '--new-session',
  '--ro-bind',
  '/',
  '/',
  '--dev',
  '/dev',
  '--proc',
  '/proc',
  '--tmpfs',
  '/tmp',
];

function bwrapPath(): string | undefined {
  return ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'].find((path) => existsSync(path));
}

export function describeBwrapNode(): string {
  return `bwrap ${BWRAP_ARGS.join(' ')} node -e 'console.log(1)'`;
}

/** Can bubblewrap create namespaces here? Says why not, plainly. */
export async function detectBwrap(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const bwrap = bwrapPath();
  if (!bwrap) return { ok: false, reason: 'bubblewrap is not installed (apt-get install bubblewrap)' };
  const outcome = await runCommand(bwrap, [...BWRAP_ARGS, 'true'], 15_000, BARE_ENV);
  if (outcome.exitCode !== 0)
    return { ok: false, reason: `bwrap cannot create namespaces here: ${outcome.stderr.trim().slice(0, 200)}` };
  return { ok: true };
}

/**
 * Reference, not a baseline: bare node inside bubblewrap's namespaces (new user,
 * network, PID, IPC, UTS, mount; read-only root). What kernel isolation alone
 * costs, so a spawn figure splits into namespaces and everything else.
 */
export function bwrapNodeReference(): Participant {
  const bwrap = bwrapPath() ?? 'bwrap';
  return commandBaseline(
    'bwrap-node',
    (scenario) => scenario.name === 'node-hello',
    (scenario) => runCommand(bwrap, [...BWRAP_ARGS, process.execPath, '-e', scenario.code], 60_000, BARE_ENV),
  );
}

/** Spawn's perl launcher (perl-base, no bubblewrap), or why it cannot run here. */
async function detectPerlLauncher(): Promise<
  { ok: true; command: string; args: string[]; env: NodeJS.ProcessEnv } | { ok: false; reason: string }
> {
  if (!existsSync('/usr/bin/perl')) return { ok: false, reason: 'perl is not installed' };
  const launcher = perlLauncher('/usr/bin/perl');
  if (typeof launcher === 'string') return { ok: false, reason: launcher };
  const found = {
    command: launcher.command,
    args: [...launcher.prefix, ...BWRAP_ARGS],
    env: { ...BARE_ENV, ...launcher.env },
  };
  const outcome = await runCommand(found.command, [...found.args, '--', '/bin/true'], 15_000, found.env);
  if (outcome.exitCode !== 0)
    return {
      ok: false,
      reason: `the perl launcher cannot create namespaces here: ${outcome.stderr.trim().slice(0, 200)}`,
    };
  return { ok: true, ...found };
}

export function describePerlLauncherNode(): string {
  return `perl -e <launcher.pl> ${BWRAP_ARGS.join(' ')} -- node -e 'console.log(1)'`;
}

/**
 * Reference, not a baseline: bare node inside the namespaces of spawn's perl launcher, with
 * bubblewrap's arguments, so the two launchers' own cost is compared in one run.
 */
export async function perlLauncherNodeReference(): Promise<Participant | { reason: string }> {
  const found = await detectPerlLauncher();
  if (!found.ok) return { reason: found.reason };
  return commandBaseline(
    'perl-launcher-node',
    (scenario) => scenario.name === 'node-hello',
    (scenario) =>
      runCommand(found.command, [...found.args, '--', process.execPath, '-e', scenario.code], 60_000, found.env),
  );
}
