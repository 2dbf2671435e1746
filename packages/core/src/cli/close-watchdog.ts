import { readFileSync } from 'node:fs';

/** Exit code when a command's work is done but it cannot shut down. */
export const EXIT_CLOSE_HUNG = 4;

/** How long a command may take to close its executor and exit once its result is out. */
export const CLOSE_WATCHDOG_MS = 60_000;

/**
 * Bounds the shutdown of a command whose result is already written. A close() that never
 * settles, or a handle left open, would keep the CLI (and the script or CI job waiting on
 * it) alive forever with nothing said: past the bound this names what is still open and
 * exits with EXIT_CLOSE_HUNG. The timer is unref'd, so a clean exit is never delayed.
 */
export function armCloseWatchdog(params: { command: string; afterMs?: number }): void {
  const afterMs = params.afterMs ?? CLOSE_WATCHDOG_MS;
  setTimeout(() => {
    process.stderr.write(
      `cordon ${params.command}: the result is out, but the executor did not close within ${afterMs} ms; still open: ${describeOpen()}\n`,
    );
    process.exit(EXIT_CLOSE_HUNG);
  }, afterMs).unref();
}

/** Node's open resources by kind, and this process's child processes with their command lines. */
export function describeOpen(): string {
  const kinds = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  const resources = [...kinds].map(([kind, count]) => `${kind} ×${count}`).join(', ') || 'no resources';
  const children = childProcesses(process.pid);
  return `${resources}; ${children.length} child process(es)${children.length > 0 ? `: ${children.slice(0, 8).join('; ')}` : ''}`;
}

function childProcesses(pid: number): string[] {
  let listed: string;
  try {
    listed = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    // Not Linux, or no /proc: the resources alone must do.
    return [];
  }
  return listed
    .split(/\s+/)
    .filter(Boolean)
    .map((child) => {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${child}/cmdline`, 'latin1').replaceAll('\0', ' ').trim().slice(0, 160);
      } catch {
        // Gone meanwhile.
      }
      return `pid ${child} ${cmdline}`;
    });
}
