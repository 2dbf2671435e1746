import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { CanaryLog } from './log.js';
import { formatAddress } from './stream.js';
import { debug, ignored } from '../../backend/debug.js';

/**
 * A DNS responder on UDP and TCP (same port) that records every query name and
 * answers A queries with `answerIPv4`, so a control run's lookup succeeds.
 */
export class DnsCanary {
  readonly #udp: UdpSocket;
  readonly #tcp: Server;
  readonly #sockets = new Set<Socket>();
  readonly port: number;

  private constructor(udp: UdpSocket, tcp: Server, port: number) {
    this.#udp = udp;
    this.#tcp = tcp;
    this.port = port;
  }

  /** Binds UDP and TCP on the same port: `port`, or an ephemeral one free for both. */
  static async listen(name: string, log: CanaryLog, host: string, answerIPv4: string, port = 0): Promise<DnsCanary> {
    let lastError: unknown;
    for (let attempt = 0; attempt < (port === 0 ? 10 : 1); attempt++) {
      const udp = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: isIPv6(host) });
      try {
        await bindUdp(udp, host, port);
        const boundPort = udp.address().port;
        const tcp = createServer();
        await listenTcp(tcp, host, boundPort);
        const canary = new DnsCanary(udp, tcp, boundPort);
        canary.#serve(name, log, answerIPv4, formatAddress(udp.address()));
        return canary;
      } catch (error) {
        lastError = error;
        udp.close();
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  #serve(name: string, log: CanaryLog, answerIPv4: string, at: string): void {
    this.#udp.on('message', (message, remote) => {
      const reply = answer(message, name, `udp ${at}`, log, answerIPv4);
      if (reply) this.#udp.send(reply, remote.port, remote.address);
    });
    this.#udp.on(
      'error',
      ignored('conformance.canary', () => `DNS canary ${name} (udp)`),
    );
    this.#tcp.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.setTimeout(5_000, () => socket.destroy());
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        // DNS over TCP: each message is prefixed with its 16-bit length.
        while (buffer.byteLength >= 2) {
          const length = buffer.readUInt16BE(0);
          if (buffer.byteLength < 2 + length) break;
          const message = buffer.subarray(2, 2 + length);
          buffer = buffer.subarray(2 + length);
          const reply = answer(message, `${name}-tcp`, `tcp ${at}`, log, answerIPv4);
          if (reply) {
            const framed = Buffer.alloc(2 + reply.byteLength);
            framed.writeUInt16BE(reply.byteLength, 0);
            reply.copy(framed, 2);
            socket.write(framed);
          }
        }
      });
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.#udp.close(() => resolve())),
      new Promise<void>((resolve) => this.#tcp.close(() => resolve())),
    ]);
  }
}

function answer(message: Buffer, canary: string, at: string, log: CanaryLog, answerIPv4: string): Buffer | undefined {
  let query: dnsPacket.Packet;
  try {
    query = dnsPacket.decode(message);
  } catch (error) {
    debug('conformance.canary', () => `a ${message.byteLength}-byte datagram to the DNS canary is not DNS`, error);
    // Not DNS: still record the raw bytes, a probe may have sent its nonce anyway.
    log.record(canary, at, message);
    return undefined;
  }
  const questions = query.questions ?? [];
  log.record(canary, at, Buffer.from(questions.map((q) => q.name).join(' ') || message.toString('latin1')));
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED),
    questions,
    answers: questions
      .filter((q) => q.type === 'A')
      .map((q) => ({ type: 'A' as const, name: q.name, ttl: 1, class: 'IN' as const, data: answerIPv4 })),
  });
}

function bindUdp(socket: UdpSocket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
