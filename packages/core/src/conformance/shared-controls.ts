import { readdirSync, readFileSync } from 'node:fs';
import { findOnPath, hostPython, startOnHost } from './on-host.js';
import { parseProbeOutput } from './probes/output.js';
import { debug } from '../backend/debug.js';

/**
 * The fixed, unused host uid the shared-resources controls run as when the
 * adapter has no `sharedUserControl`: two host processes under one uid show
 * what sharing a uid does. Never root: exhausting root's inotify instances or
 * queued signals would break the host's own daemons.
 */
export const SHARED_CONTROL_UID = 1_599_999_999;

/** Private devpts instances of the pty control hold this many terminals, so A exhausts them at once. */
export const CONTROL_PTY_MAX = 8;

/** Starts A, waits until it says it holds everything, runs B, stops A, then prints A's output after B's. */
const PAIR_SCRIPT = `py=$1; a=$2; b=$3
out=$(mktemp) || exit 96
"$py" -c "$a" > "$out" 2>&1 &
apid=$!
i=0
while [ $i -lt 300 ]; do
  grep -q 'CORDON-FACT holding=1' "$out" 2>/dev/null && break
  kill -0 $apid 2>/dev/null || break
  sleep 0.05; i=$((i + 1))
done
"$py" -c "$b"
kill -9 $apid 2>/dev/null
cat "$out"; rm -f "$out"`;

const MOUNT_PRIVATE_PTYS = `mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,max=${CONTROL_PTY_MAX} devpts /dev/pts && mount --bind /dev/pts/ptmx /dev/ptmx || exit 97
`;

export interface HostPair {
  /** Facts A and B printed (A's keys start with `A.`, B's with `B.`). */
  readonly facts: Record<string, string>;
  /** How the pair was made, for the report. */
  readonly how: string;
  readonly stderr: string;
}

/**
 * Runs A and B (python code) as two host processes that share what is under
 * test: one throwaway uid (`shared-uid`), or one private devpts instance with
 * room for only `CONTROL_PTY_MAX` terminals (`shared-ptys`, in a mount
 * namespace of its own, so the host's terminals are never touched). Returns why
 * not when this host cannot make the pair.
 */
export async function runHostPair(
  kind: 'shared-uid' | 'shared-ptys',
  a: string,
  b: string,
): Promise<HostPair | { unavailable: string }> {
  const python = hostPython();
  if (!python) return { unavailable: 'no python3 on the host' };
  const isRoot = process.getuid?.() === 0;
  let command: [string, string[]];
  let how: string;
  if (kind === 'shared-uid') {
    const setpriv = findOnPath('setpriv');
    if (!isRoot || !setpriv)
      return {
        unavailable: `two host processes under one throwaway uid need root and setpriv (${isRoot ? 'no setpriv' : 'not root'})`,
      };
    const taken = uidInUse(SHARED_CONTROL_UID);
    if (taken) return { unavailable: `the throwaway uid ${SHARED_CONTROL_UID} is in use here (${taken})` };
    command = [
      setpriv,
      [
        `--reuid=${SHARED_CONTROL_UID}`,
        `--regid=${SHARED_CONTROL_UID}`,
        '--clear-groups',
        '--',
        '/bin/sh',
        '-c',
        PAIR_SCRIPT,
        'sh',
        python,
        a,
        b,
      ],
    ];
    how = `two host processes as uid ${SHARED_CONTROL_UID}`;
  } else {
    const unshare = findOnPath('unshare');
    if (!unshare) return { unavailable: 'no unshare on the host for a private devpts instance' };
    // Not root: a user namespace of its own may still mount devpts.
    command = [
      unshare,
      [
        ...(isRoot ? [] : ['--user', '--map-root-user']),
        '--mount',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        MOUNT_PRIVATE_PTYS + PAIR_SCRIPT,
        'sh',
        python,
        a,
        b,
      ],
    ];
    how = `two host processes sharing one private devpts instance (max=${CONTROL_PTY_MAX})`;
  }
  const run = await startOnHost(command, { timeoutMs: 60_000 }).done;
  if (run.exitCode === 97)
    return { unavailable: `could not mount a private devpts instance: ${run.stderr.trim().slice(0, 200)}` };
  if (run.exitCode === 96 || run.signal !== null || run.timedOut)
    return {
      unavailable: `the host pair did not run (exit ${run.exitCode ?? run.signal}${run.timedOut ? ', timed out' : ''}): ${run.stderr.trim().slice(0, 200)}`,
    };
  return { facts: parseProbeOutput(run.stdout).facts, how, stderr: run.stderr };
}

/** Who uses `uid` on this host (a passwd entry or a running process), or undefined. */
function uidInUse(uid: number): string | undefined {
  try {
    if (
      readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .some((line) => line.split(':')[2] === String(uid))
    )
      return 'an /etc/passwd entry';
  } catch (error) {
    // No passwd file: only processes can tell.
    debug('conformance.controls', 'read /etc/passwd', error);
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const line = readFileSync(`/proc/${entry}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('Uid:'));
      if (line?.split(/\s+/).slice(1).includes(String(uid))) return `process ${entry}`;
    } catch (error) {
      // Gone meanwhile.
      debug('conformance.controls', () => `read /proc/${entry}/status`, error);
    }
  }
  return undefined;
}
