import { readdirSync, readFileSync } from 'node:fs';
import { debug } from '../backend/debug.js';

export interface HostProcess {
  pid: number;
  cmdline: string;
}

/**
 * Host processes whose command line contains any of `markers`. Probes name the
 * processes they start with a per-run nonce, so this finds exactly what the
 * suite's own probes left running (never anyone else's), on any backend whose
 * processes share the host kernel.
 */
export function findHostProcesses(markers: Iterable<string>): HostProcess[] {
  const needles = [...markers].filter((marker) => marker.length >= 8);
  if (needles.length === 0 || process.platform !== 'linux') return [];
  const found: HostProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch (error) {
    debug('conformance.host', 'list /proc', error);
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1').replaceAll('\0', ' ').trim();
    } catch (error) {
      debug('conformance.host', () => `read /proc/${entry}/cmdline`, error);
      continue;
    }
    if (cmdline === '') continue;
    if (needles.some((needle) => cmdline.includes(needle))) found.push({ pid, cmdline: cmdline.slice(0, 120) });
  }
  return found;
}

/** Kills exactly the given processes (found by `findHostProcesses`), ignoring ones already gone. */
export function killHostProcesses(processes: readonly HostProcess[]): void {
  for (const { pid } of processes) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      // Gone already, or not ours to signal.
      debug('conformance.host', () => `kill pid ${pid}`, error);
    }
  }
}

/** Kills what `findHostProcesses(markers)` finds and waits (up to `timeoutMs`) until none is left; returns the ones that survived. */
export async function reapHostProcesses(markers: Iterable<string>, timeoutMs = 3_000): Promise<HostProcess[]> {
  const list = [...markers];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = findHostProcesses(list);
    if (found.length === 0 || Date.now() >= deadline) return found;
    killHostProcesses(found);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
