import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { CanaryLog } from './log.js';
import { formatAddress } from './stream.js';
import { ignored } from '../../backend/debug.js';

/** A UDP canary: records every datagram. */
export class UdpCanary {
  readonly #socket: Socket;
  #at = '';

  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  static async listen(name: string, log: CanaryLog, host: string, port = 0): Promise<UdpCanary> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: isIPv6(host) });
    const canary = new UdpCanary(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    canary.#at = formatAddress(socket.address());
    socket.on('message', (message) => log.record(name, canary.#at, message));
    socket.on(
      'error',
      ignored('conformance.canary', () => `UDP canary ${name}`),
    );
    return canary;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
