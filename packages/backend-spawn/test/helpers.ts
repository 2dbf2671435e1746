import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionResult } from '@cordon/core';
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

/** A directory on the host holding a canary file that no sandbox may ever return. */
export interface HostCanaryDir extends Disposable {
  readonly dir: string;
  readonly name: string;
  readonly content: string;
}

export function plantHostCanary(name = 'shadow'): HostCanaryDir {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-spawn-test-canary-'));
  // Readable by every uid: whoever reads collected files could read it, so only confinement keeps it out.
  chmodSync(dir, 0o755);
  const content = `HOST-CANARY-${randomUUID()}`;
  writeFileSync(join(dir, name), content, { mode: 0o644 });
  return { dir, name, content, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Collected files as `[path, text]` pairs. */
export function filesOf(result: ExecutionResult): [string, string][] {
  return result.files.map((file) => [file.path, Buffer.from(file.content).toString('utf8')]);
}

/** A Python prelude calling raw syscalls (numbers below are the same on x86_64 and arm64). */
export const PY_SYSCALL = [
  'import ctypes, os, sys',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.syscall.restype = ctypes.c_long',
  'def sys_call(nr, *args):',
  '    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])',
  '    return r if r >= 0 else -ctypes.get_errno()',
  'PIDFD_OPEN, PIDFD_GETFD = 434, 438',
].join('\n');
