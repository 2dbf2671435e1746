import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendUnavailableError, IsolationRefusedError } from '@cordon/core';
import { afterAll, describe, expect, it } from 'vitest';
import { backend, K8sExecutor, KubeForbiddenError } from '../src/index.js';

// Fake API servers on loopback: every failure must become a typed error, quickly.
const dir = mkdtempSync(join(tmpdir(), 'cordon-k8s-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(server: string): string {
  const path = join(dir, `kubeconfig-${Math.random().toString(16).slice(2)}`);
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: t',
      'clusters: [{name: t, cluster: {server: "' + server + '", insecure-skip-tls-verify: true}}]',
      'users: [{name: t, user: {token: fake}}]',
      'contexts: [{name: t, context: {cluster: t, user: t}}]',
      '',
    ].join('\n'),
  );
  return path;
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('typed errors without a cluster', () => {
  it('a missing kubeconfig is BackendUnavailableError', () => {
    expect(() => K8sExecutor.create({ kubeconfig: join(dir, 'does-not-exist') })).toThrow(BackendUnavailableError);
  });

  it('an API server that refuses connections fails fast with BackendUnavailableError', async () => {
    const executor = K8sExecutor.create({ kubeconfig: kubeconfig('http://127.0.0.1:1'), poolSize: 0 });
    const started = performance.now();
    await expect(executor.execute({ language: 'node', code: 'console.log(1)' })).rejects.toThrow(
      BackendUnavailableError,
    );
    await expect(executor.execute({ language: 'node', code: 'console.log(1)' })).rejects.toThrow(/unreachable/);
    expect(performance.now() - started).toBeLessThan(5_000);
    await executor.close();
  });

  it('an API server that never answers fails after apiTimeoutMs, not never', async () => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((socket) => sockets.add(socket));
    const port = await listen(silent);
    const executor = K8sExecutor.create({
      kubeconfig: kubeconfig(`http://127.0.0.1:${port}`),
      poolSize: 0,
      apiTimeoutMs: 500,
    });
    const started = performance.now();
    const error: unknown = await executor
      .execute({ language: 'node', code: 'console.log(1)' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(String(error)).toMatch(/did not answer .* within 500 ms/);
    expect(performance.now() - started).toBeLessThan(3_000);
    await executor.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
  });

  it('a forbidden verb names the verb and the RBAC remedy; a forbidden policy refuses to run', async () => {
    const seen: string[] = [];
    const api = createHttpServer((request, response) => {
      seen.push(`${request.method} ${request.url}`);
      const forbidden = (what: string) => {
        response.writeHead(403, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            reason: 'Forbidden',
            code: 403,
            message: `${what} is forbidden: User "x" cannot do it`,
          }),
        );
      };
      if (request.method === 'GET' && request.url?.startsWith('/api/v1/namespaces/')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'x' } }));
      } else if (request.url?.includes('networkpolicies')) {
        forbidden('networkpolicies.networking.k8s.io');
      } else {
        forbidden('namespaces');
      }
    });
    const port = await listen(api);
    const executor = K8sExecutor.create({ kubeconfig: kubeconfig(`http://127.0.0.1:${port}`), poolSize: 0 });
    const error: unknown = await executor
      .execute({ language: 'node', code: 'console.log(1)' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IsolationRefusedError);
    expect(String(error)).toMatch(/forbids "create networkpolicies in namespace cordon-sandbox"/);
    expect((error as IsolationRefusedError).remedy).toMatch(/rbac\.yaml/);
    expect(seen.some((line) => line.startsWith('POST /api/v1/namespaces/cordon-sandbox/pods'))).toBe(false);
    await executor.close();

    const probe = await backend.availability({ kubeconfig: kubeconfig('http://127.0.0.1:1') });
    expect(probe.usable).toBe(false);
    expect(probe.detail).toMatch(/unreachable/);
    api.close();
    void KubeForbiddenError;
  });
});
