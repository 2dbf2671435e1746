import { debug } from '@cordon/core/backend';

/**
 * After SIGKILL a process tree is gone within milliseconds. Its pipes still open this
 * long after are held by something else; they are closed from this end, and past twice
 * that the wait ends anyway (logged): no run, release or executor close waits forever on
 * it. A process that truly survived is the leftover scan's to find.
 */
export const CLOSE_AFTER_KILL_MS = 5_000;

/**
 * Bounds the wait for a killed child's `close` (which needs every pipe closed): unless
 * `closed` settles first, the pipes are destroyed CLOSE_AFTER_KILL_MS from now, and at
 * twice that the wait is given up. Resolves when `closed` settles or at the give-up,
 * whichever is first. Call once, right after the kill; the timers are unref'd and
 * cleared once `closed` settles.
 */
export function boundCloseAfterKill(params: {
  /** Named in the debug lines, e.g. `sandbox pid 123`. */
  what: string;
  closed: Promise<unknown>;
  streams: readonly ({ destroy(): unknown } | null | undefined)[];
}): Promise<void> {
  let giveUp: () => void = () => undefined;
  const givenUp = new Promise<void>((resolve) => (giveUp = resolve));
  let timer = setTimeout(() => {
    debug('spawn.close', () => `${params.what} not closed ${CLOSE_AFTER_KILL_MS} ms after SIGKILL: closing its pipes`);
    for (const stream of params.streams) stream?.destroy();
    timer = setTimeout(() => {
      debug(
        'spawn.close',
        () => `${params.what} not closed ${2 * CLOSE_AFTER_KILL_MS} ms after SIGKILL: counted as ended`,
      );
      giveUp();
    }, CLOSE_AFTER_KILL_MS).unref();
  }, CLOSE_AFTER_KILL_MS).unref();
  const settled = params.closed.then(
    () => undefined,
    () => undefined,
  );
  void settled.finally(() => clearTimeout(timer));
  return Promise.race([settled, givenUp]);
}
