import type { Readable } from 'node:stream';
import { MAX_WIRE_LINE_BYTES } from './wire.js';

/**
 * Calls `onLine` with each newline-ended line of `input` (UTF-8), bounded: a line
 * past MAX_WIRE_LINE_BYTES calls `onOverflow` and ends the reading.
 */
export function readLines(
  input: Readable,
  handlers: { onLine(line: string): void; onOverflow(): void; onEnd(): void },
): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let stopped = false;
  const onData = (chunk: Buffer) => {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline >= 0 && !stopped; newline = chunk.indexOf(0x0a, start)) {
      const line = Buffer.concat([...pending, chunk.subarray(start, newline)]);
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      if (line.length > MAX_WIRE_LINE_BYTES) return overflow();
      handlers.onLine(line.toString('utf8'));
    }
    if (stopped || start >= chunk.length) return;
    pending.push(chunk.subarray(start));
    pendingBytes += chunk.length - start;
    if (pendingBytes > MAX_WIRE_LINE_BYTES) overflow();
  };
  const overflow = () => {
    stopped = true;
    input.off('data', onData);
    handlers.onOverflow();
  };
  input.on('data', onData);
  input.once('end', () => {
    if (!stopped) handlers.onEnd();
  });
  input.once('error', () => {
    if (!stopped) handlers.onEnd();
  });
}
