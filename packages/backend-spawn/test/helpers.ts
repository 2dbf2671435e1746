import { createServer, type Server, type Socket } from 'node:net';
import { backend } from '../src/index.js';
import type { SpawnExecutor } from '../src/index.js';

/** A TCP listener on host loopback that records every connection (the canary). */
export interface Canary extends AsyncDisposable {
  readonly port: number;
  readonly host: string;
  readonly connections: number;
  readonly received: string;
}

export async function startCanary(host = '127.0.0.1'): Promise<Canary> {
  let connections = 0;
  let received = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\ncanary');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('canary has no port');
  return {
    port: address.port,
    host,
    get connections() {
      return connections;
    },
    get received() {
      return received;
    },
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export async function leftoversOf(executor: SpawnExecutor): Promise<string[]> {
  const adapter = await backend.conformance(executor, {});
  return adapter.leftovers();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
