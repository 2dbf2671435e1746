import type { Writable } from 'node:stream';

/**
 * For the test executors that run a program on the host in a process group of its own
 * (spawned detached): gives it its standard input and kills the whole group when the run
 * is aborted. Returns the group kill, for the run's end (the group may outlive its leader)
 * and `forget`, which stops listening to the abort.
 */
export function guardHostGroup(
  child: { readonly pid?: number | undefined; readonly stdin: Writable },
  stdin: Uint8Array | undefined,
  signal: AbortSignal,
): { killGroup(): void; forget(): void } {
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin ?? Buffer.alloc(0));
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Group already gone.
    }
  };
  signal.addEventListener('abort', killGroup, { once: true });
  return { killGroup, forget: () => signal.removeEventListener('abort', killGroup) };
}
