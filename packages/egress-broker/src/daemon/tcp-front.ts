import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { readFirstLine } from '../header.js';
import type { EgressSession } from '../session.js';
import { SESSION_KEY } from './wire.js';

/** `{"v":1,"session":"<64 chars at most>"}` and its newline fit in this. */
const MAX_SESSION_LINE_BYTES = 128;
/** A forwarder sends the line with its first bytes: a silent connection is not waited for long. */
const SESSION_LINE_TIMEOUT_MS = 2_000;

/** A listening TCP front: its address, and how to stop it (open connections stay with their sessions). */
export interface TcpFront {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The daemon's way in for sandboxes that share no file system with it (pods, on
 * other nodes): a TCP listener on which each connection first names its session in
 * one line, `{"v":1,"session":KEY}`, and is then that session's, exactly as if it
 * had come on the session's unix socket. The key is the per-execution token: 128
 * random bits the caller made, known only to that execution's sandbox; a line that
 * is late, long, malformed or names no open session closes the connection unread.
 */
export async function listenTcpFront(params: {
  host: string;
  port: number;
  sessionFor: (key: string) => Promise<EgressSession | undefined>;
}): Promise<TcpFront> {
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    void route(socket, params.sessionFor).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(params.port, params.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function route(socket: Socket, sessionFor: (key: string) => Promise<EgressSession | undefined>): Promise<void> {
  socket.resume();
  const read = await readFirstLine(socket, { maxBytes: MAX_SESSION_LINE_BYTES, timeoutMs: SESSION_LINE_TIMEOUT_MS });
  const key = read ? sessionKeyOf(read.line) : undefined;
  const session = key ? await sessionFor(key) : undefined;
  if (!read || !session) return void socket.destroy();
  session.adopt(socket, read.rest);
}

function sessionKeyOf(line: string): string | undefined {
  try {
    const value = JSON.parse(line) as { v?: unknown; session?: unknown } | null;
    if (typeof value !== 'object' || value === null || value.v !== 1) return undefined;
    return typeof value.session === 'string' && SESSION_KEY.test(value.session) ? value.session : undefined;
  } catch {
    return undefined;
  }
}
