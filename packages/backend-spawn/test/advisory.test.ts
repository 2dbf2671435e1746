import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IsolationRefusedError } from '@cordon/core';
import { SANDBOX_UID_RANGE } from '@cordon/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { filesOf, leftoversOf, plantHostCanary, sleep, startCanary } from './helpers.js';

let executor: SpawnExecutor;

beforeAll(async () => {
  executor = await SpawnExecutor.create({ isolation: 'advisory' });
});
afterAll(async () => {
  await executor?.close();
});

const accept = { acceptUnenforced: ['network'] as const };

describe('spawn backend, advisory isolation (forced)', () => {
  it('reports the network as advisory', () => {
    expect(executor.isolation).toBe('advisory');
    expect(executor.capabilities().network).toBe('advisory');
  });

  it('refuses a network:none run and says how to get kernel isolation', async () => {
    const refusal = executor.execute({ language: 'node', code: 'console.log(1)' });
    await expect(refusal).rejects.toBeInstanceOf(IsolationRefusedError);
    await expect(refusal).rejects.toThrow(/apt-get install bubblewrap/);
    await expect(refusal).rejects.toThrow(/apparmor_restrict_unprivileged_userns=0/);
    await expect(refusal).rejects.toThrow(/docker backend/);
  });

  it('runs when the caller accepts advisory isolation, with a warning', async () => {
    const result = await executor.execute({ language: 'python', code: 'print("ok")', ...accept });
    expect([result.status, result.stdout]).toEqual(['ok', 'ok\n']);
    expect(result.warnings).toEqual(['network isolation is advisory only (accepted by the caller)']);
  });

  it('allowAdvisoryIsolation accepts it for every run', async () => {
    await using relaxed = await SpawnExecutor.create({ isolation: 'advisory', allowAdvisoryIsolation: 'true' });
    const result = await relaxed.execute({ language: 'node', code: 'console.log(2)' });
    expect([result.status, result.stdout]).toEqual(['ok', '2\n']);
    expect(result.warnings).toHaveLength(1);
  });

  it('the Node guard fails https.request with a message naming host and port', async () => {
    await using canary = await startCanary();
    const result = await executor.execute({
      language: 'node',
      code: `require('https').request({ host: '127.0.0.1', port: ${canary.port}, path: '/' }).on('error', (e) => { console.log(e.message); process.exit(9); }).end();`,
      ...accept,
    });
    expect(result.exitCode).toBe(9);
    expect(result.stdout).toContain(`127.0.0.1:${canary.port}`);
    expect(result.stdout).toContain('network access is disabled');
    expect(canary.connections).toBe(0);
  });

  it('the guard covers net.Socket, fetch, dgram, dns.Resolver, process.binding and child node processes with an empty env', async () => {
    await using canary = await startCanary();
    const code = `
      const net = require('net'), dgram = require('dgram'), dns = require('dns'), { spawnSync } = require('child_process');
      const seen = [];
      await new Promise((r) => new net.Socket().connect(${canary.port}, '127.0.0.1').on('error', (e) => { seen.push(e.code); r(); }));
      await fetch('http://127.0.0.1:${canary.port}/').catch((e) => seen.push(e.code));
      await new Promise((r) => dgram.createSocket('udp4').send('x', ${canary.port}, '127.0.0.1', (e) => { seen.push(e && e.code); r(); }));
      const resolver = new dns.Resolver(); resolver.setServers(['127.0.0.1:${canary.port}']);
      await new Promise((r) => resolver.resolve4('example.com', (e) => { seen.push(e && e.code); r(); }));
      try { process.binding('tcp_wrap'); } catch (e) { seen.push(e.code); }
      const child = spawnSync(process.execPath, ['-e', "require('net').connect(${canary.port}, '127.0.0.1').on('error', (e) => console.log(e.code))"], { env: {}, encoding: 'utf8' });
      seen.push(child.stdout.trim());
      console.log(seen.join(','));
    `;
    const result = await executor.execute({ language: 'node', code: `(async () => {${code}})()`, ...accept });
    expect(result.stdout.trim().split(',')).toEqual(Array(6).fill('ERR_CORDON_NETWORK_BLOCKED'));
    expect(canary.connections).toBe(0);
  });

  it('does not stop non-Node programs (what the advisory isolation cannot stop)', async () => {
    await using canary = await startCanary();
    const result = await executor.execute({
      language: 'bash',
      code: `curl -sS -m 2 http://127.0.0.1:${canary.port}/`,
      ...accept,
    });
    expect(result.stdout).toBe('canary');
    expect(canary.connections).toBe(1);
  });

  it('runs as an unprivileged user with files in and out', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: 'id -u; cat in.txt > out.txt; echo out >> out.txt',
      files: { 'in.txt': 'in\n' },
      collectFiles: ['out.txt'],
      ...accept,
    });
    // As root: a host uid of its own, leased for this sandbox.
    expect(Number(result.stdout)).toBeGreaterThanOrEqual(SANDBOX_UID_RANGE.first);
    expect(result.files.map((file) => Buffer.from(file.content).toString())).toEqual(['in\nout\n']);
  });

  it('collects through the runner, never following links, and names what it leaves out', async () => {
    using canary = plantHostCanary();
    const result = await executor.execute({
      language: 'bash',
      code: `ln -s ${canary.dir}/${canary.name} a.txt; ln -s /proc/self/root${canary.dir} d; ln -s ${canary.dir} e; echo mine > own.txt; printf x > $'\\xfe.txt'`,
      collectFiles: ['*.txt', 'd/**', 'e/**'],
      ...accept,
    });
    expect(result.status).toBe('ok');
    expect(filesOf(result)).toEqual([['own.txt', 'mine\n']]);
    expect(result.warnings.join('\n')).toContain('"\\xfe.txt" left out: its name is not valid UTF-8');
  });

  it('times out and kills the whole tree, leaving nothing', async () => {
    const marker = join(tmpdir(), `cordon-advisory-marker-${process.pid}`);
    rmSync(marker, { force: true });
    const result = await executor.execute({
      language: 'bash',
      code: `(sleep 1; echo survived > ${marker}) & disown; sleep 30`,
      timeoutMs: 400,
      ...accept,
    });
    expect(result.status).toBe('timeout');
    await sleep(1500);
    expect(existsSync(marker)).toBe(false);
    expect(await leftoversOf(executor)).toEqual([]);
  });

  it('reports oom through the cgroup and leaves nothing', async () => {
    const result = await executor.execute({
      language: 'node',
      code: 'const keep = []; for (;;) keep.push(Buffer.alloc(8 * 1024 * 1024, 1));',
      limits: { memoryBytes: 64 * 1024 * 1024 },
      ...accept,
    });
    expect(result.status).toBe('oom');
    expect(await leftoversOf(executor)).toEqual([]);
  });

  it('a runner that exits right after its status is still believed: its last record is read, not dropped with its stream', async () => {
    // Regression: the host closed the runner stream when the runner exited, before reading
    // the status it had just written (seen as "reported no status" under load).
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round++) {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => executor.execute({ language: 'bash', code: 'exit 3', ...accept })),
      );
      for (const result of results)
        outcomes.push(result.status === 'rejected' ? String(result.reason) : `exit ${result.value.exitCode}`);
    }
    expect(outcomes.filter((outcome) => outcome !== 'exit 3')).toEqual([]);
    expect(await leftoversOf(executor)).toEqual([]);
  });
});
