import { isIP, type Socket } from 'node:net';

/** The one JSON line that opens every connection on the broker's socket. */
export type ConnectionHeader =
  | { readonly v: 1; readonly kind: 'http-proxy' }
  | { readonly v: 1; readonly kind: 'socks' }
  | { readonly v: 1; readonly kind: 'dns' }
  | { readonly v: 1; readonly kind: 'captured'; readonly address: string; readonly port: number };

export const MAX_HEADER_BYTES = 512;
export const HEADER_TIMEOUT_MS = 5_000;

/**
 * Reads the header line (at most MAX_HEADER_BYTES including the newline) and the
 * bytes after it; undefined (the caller closes) when it is late, long or invalid.
 */
export async function readHeader(
  socket: Socket,
  timeoutMs: number = HEADER_TIMEOUT_MS,
): Promise<{ header: ConnectionHeader; rest: Buffer } | undefined> {
  const read = await readFirstLine(socket, { maxBytes: MAX_HEADER_BYTES, timeoutMs });
  const header = read && parseHeader(read.line);
  return header && read ? { header, rest: read.rest } : undefined;
}

/**
 * Reads one newline-ended line (at most `maxBytes` including the newline) and the
 * bytes after it, then pauses the socket; undefined when it is late, long, or the
 * socket ends first.
 */
export function readFirstLine(
  socket: Socket,
  bounds: { maxBytes: number; timeoutMs: number },
): Promise<{ line: string; rest: Buffer } | undefined> {
  return new Promise((resolve) => {
    let buffer: Buffer = Buffer.alloc(0);
    const done = (result: { line: string; rest: Buffer } | undefined) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const newline = buffer.subarray(0, bounds.maxBytes).indexOf(0x0a);
      if (newline < 0) {
        if (buffer.length >= bounds.maxBytes) done(undefined);
        return;
      }
      done({ line: buffer.subarray(0, newline).toString('utf8'), rest: buffer.subarray(newline + 1) });
    };
    const onEnd = () => done(undefined);
    const timer = setTimeout(() => done(undefined), bounds.timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

export function parseHeader(line: string): ConnectionHeader | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { v, kind, address, port } = value as Record<string, unknown>;
  if (v !== 1) return undefined;
  if (kind === 'http-proxy' || kind === 'socks' || kind === 'dns') return { v, kind };
  if (kind !== 'captured') return undefined;
  if (typeof address !== 'string' || isIP(address) === 0) return undefined;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { v, kind, address, port };
}
