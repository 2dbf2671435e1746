import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { CanaryLog } from './log.js';

const HTTP_REQUEST_LINE = /^[A-Z]{3,10} \S+ HTTP\/1\.[01]\r?\n/;
const HTTP2_PREFACE = 'PRI * HTTP/2.0';
/** An empty HTTP/2 SETTINGS frame: lets an h2 client send its request and body. */
const HTTP2_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const IDLE_MS = 5_000;

/**
 * A stream canary (TCP, or a Unix socket): records every connection's bytes. It
 * answers just enough for clients to deliver their payload: an HTTP/1.1 `200` once
 * request headers are in, an HTTP/2 SETTINGS frame after the preface, and it
 * closes TLS connections once the ClientHello (with the nonce in its SNI) is in.
 */
export class StreamCanary {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #name: string;
  #at = '';

  private constructor(name: string, log: CanaryLog) {
    this.#name = name;
    this.#server = createServer((socket) => this.#accept(socket, log));
  }

  /** Listens on `host` (ephemeral port), or on a Unix socket path / abstract name (`\0name`) when `port` is undefined. */
  static async listen(
    name: string,
    log: CanaryLog,
    target: { host: string; port: 0 } | { path: string },
  ): Promise<StreamCanary> {
    const canary = new StreamCanary(name, log);
    await new Promise<void>((resolve, reject) => {
      canary.#server.once('error', reject);
      if ('path' in target) canary.#server.listen(target.path, resolve);
      else canary.#server.listen(target.port, target.host, resolve);
    });
    const address = canary.#server.address();
    canary.#at = typeof address === 'string' ? address.replace('\0', '@') : formatAddress(address);
    return canary;
  }

  get port(): number {
    const address = this.#server.address();
    return address !== null && typeof address === 'object' ? address.port : 0;
  }

  get at(): string {
    return this.#at;
  }

  #accept(socket: Socket, log: CanaryLog): void {
    this.#sockets.add(socket);
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let hit: ReturnType<CanaryLog['record']> | undefined;
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      if (hit) log.append(hit, chunk);
      else hit = log.record(this.#name, this.#at, chunk);
      if (answered) return;
      const text = hit.data.toString('latin1');
      if (HTTP_REQUEST_LINE.test(text) && text.includes('\r\n\r\n')) {
        answered = true;
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
      } else if (text.startsWith(HTTP2_PREFACE)) {
        answered = true;
        socket.write(HTTP2_SETTINGS);
      } else if (hit.data[0] === 0x16) {
        // TLS: the ClientHello carries the nonce in its SNI; no certificate needed.
        answered = true;
        setTimeout(() => socket.destroy(), 200).unref();
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export function formatAddress(address: AddressInfo | null): string {
  if (address === null) return '?';
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}
