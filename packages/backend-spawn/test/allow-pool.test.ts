import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { EgressRecord, ExecutionRequest, ExecutionResult } from '@cordon/core';
import { OWNER_ID } from '@cordon/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { leftoversOf, sleep } from './helpers.js';

// Every test name maps to this loopback canary through the policy's resolve override;
// nothing here consults a resolver or leaves the machine.
let canary: Server;
let canaryPort = 0;

beforeAll(async () => {
  canary = createServer((request, response) => response.end(`canary saw ${request.url ?? ''}`));
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  canaryPort = (canary.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => canary?.close(resolve));
});

const ONE = 'one.listed.test';
const TWO = 'two.listed.test';

function allow(rules: string[]): ExecutionRequest['network'] {
  return {
    mode: 'allow',
    allow: rules,
    resolve: { [ONE]: `127.0.0.1:${canaryPort}`, [TWO]: `127.0.0.1:${canaryPort}` },
  };
}

/** curl through the sandbox's HTTP proxy: the canary's answer, or the broker's status. */
const curl = (host: string, path: string) => `curl -sS -m 5 -w ' %{http_code}\\n' http://${host}${path}`;

const connections = (result: ExecutionResult) =>
  (result.egress?.records ?? []).filter((record) => record.path !== 'dns');

/**
 * Ids whose egress forwarder runs (its process names itself after its marker, then
 * ` dns` for a network-none sandbox's DNS-only one), of `scope`: every network-none
 * sandbox of this process (the conformance adapter's sibling executor's too) has its own.
 */
async function forwarders(scope: 'all' | 'dns' = 'all'): Promise<string[]> {
  const prefix = `cordon-egress-forwarder ${OWNER_ID}/`;
  const ids: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.startsWith(prefix)) continue;
    const [id, tag] = cmdline.slice(prefix.length).split(/[\s\0]+/);
    if ((tag === 'dns' ? 'dns' : 'all') === scope) ids.push(id!);
  }
  return ids.sort();
}

async function forwarderPid(id: string): Promise<number | undefined> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith(`cordon-egress-forwarder ${OWNER_ID}/${id}`)) return Number(pid);
  }
  return undefined;
}

/** Execution or member ids whose broker session dir exists (the leftover scan's prefix), but the DNS-only ones'. */
async function sessionDirs(): Promise<string[]> {
  const prefix = `cordon-spawn-${OWNER_ID}-egress-`;
  const dnsOnly = new Set(await forwarders('dns'));
  return (await readdir(tmpdir()))
    .filter((name) => name.startsWith(prefix))
    .map((name) => name.slice(prefix.length).replace(/-[^-]+$/, ''))
    .filter((id) => !dnsOnly.has(id))
    .sort();
}

/** Runs `request`; returns it with the allow-list member it was served from (undefined: cold). */
async function executeTracked(
  executor: SpawnExecutor,
  request: ExecutionRequest,
  allowMember: string | undefined,
): Promise<{ result: ExecutionResult; events: EgressRecord[]; taken: boolean }> {
  const events: EgressRecord[] = [];
  const onEgress = (event: { id: string; record: EgressRecord }) => events.push(event.record);
  executor.events.on('egress', onEgress);
  try {
    const pending = executor.execute(request);
    const result = await pending;
    // A member leaves the idle set when it is taken (and is never put back).
    const taken = allowMember !== undefined && !executor.idleSandboxIds.has(allowMember);
    return { result, events, taken };
  } finally {
    executor.events.off('egress', onEgress);
  }
}

/** The idle member the allow-list pool holds, once settled (the none pool's are `noneIds`). */
async function idleAllowMember(executor: SpawnExecutor, noneIds: ReadonlySet<string>): Promise<string> {
  await executor.settled();
  const members = [...executor.idleSandboxIds].filter((id) => !noneIds.has(id));
  expect(members).toHaveLength(1);
  return members[0]!;
}

async function expectAllGone(executor: SpawnExecutor): Promise<void> {
  expect(executor.idleSandboxIds.size).toBe(0);
  expect(await forwarders()).toEqual([]);
  expect(await forwarders('dns')).toEqual([]);
  expect(await sessionDirs()).toEqual([]);
  expect(await leftoversOf(executor)).toEqual([]);
}

describe('spawn backend, pool of allow-list sandboxes', () => {
  it('starts none before the first allow-list request, then serves the next one from the pool, with its own records only', async () => {
    const executor = await SpawnExecutor.create({ isolation: 'kernel', poolSize: 1 });
    try {
      await executor.settled();
      const noneIds = new Set(executor.idleSandboxIds);
      expect(noneIds.size).toBe(1);
      // Users who never use an allow-list pay nothing.
      expect([await forwarders(), await sessionDirs()]).toEqual([[], []]);

      const first = await executeTracked(
        executor,
        { language: 'bash', code: curl(ONE, '/first'), network: allow([ONE]), timeoutMs: 15_000 },
        undefined,
      );
      expect(first.result.stdout).toBe('canary saw /first 200\n');
      const member = await idleAllowMember(executor, noneIds);
      // The member's forwarder and session dir exist ahead, held on purpose (not leftovers).
      expect(await forwarders()).toEqual([member]);
      expect(await sessionDirs()).toEqual([member]);
      expect(await leftoversOf(executor)).toEqual([]);

      // The pre-booted Node has been up since before the request: proof it was started ahead.
      await sleep(1_500);
      const second = await executeTracked(
        executor,
        {
          language: 'node',
          code: `console.log(process.uptime() > 1.4); require('http').get('http://${TWO}/second', (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(b)); });`,
          network: allow([TWO]),
          timeoutMs: 15_000,
        },
        member,
      );
      expect(second.taken).toBe(true);
      expect(second.result.stdout).toBe('true\ncanary saw /second\n');
      expect(connections(second.result)).toEqual([
        expect.objectContaining({ host: TWO, verdict: 'allowed', rule: TWO }),
      ]);
      // Nothing of the first execution, in the result or in the live events.
      const hosts = (records: readonly EgressRecord[]) => new Set(records.map((record) => record.host));
      expect(hosts(second.result.egress?.records ?? [])).toEqual(new Set([TWO]));
      expect(hosts(second.events)).toEqual(new Set([TWO]));
      expect(second.events).toHaveLength(second.result.egress?.records.length ?? -1);
      expect(hosts(first.result.egress?.records ?? [])).toEqual(new Set([ONE]));

      // A start-up setting of its own (the proxy switched off): the member, but a fresh Node, as cold would run it.
      const member2 = await idleAllowMember(executor, noneIds);
      await sleep(1_500);
      const ownProxy = await executeTracked(
        executor,
        {
          language: 'node',
          code: 'console.log(process.uptime() > 1.4, process.env.NODE_USE_ENV_PROXY)',
          env: { NODE_USE_ENV_PROXY: '0' },
          network: allow([TWO]),
        },
        member2,
      );
      expect([ownProxy.taken, ownProxy.result.stdout]).toEqual([true, 'false 0\n']);

      // Not the pool's shape (limits): cold, same enforcement.
      const cold = await executor.execute({
        language: 'bash',
        code: curl(ONE, '/cold'),
        network: allow([ONE]),
        limits: { memoryBytes: 128 * 1024 * 1024 },
        timeoutMs: 15_000,
      });
      expect(cold.stdout).toBe('canary saw /cold 200\n');
      // The taken member is gone; its replacement idles.
      const next = await idleAllowMember(executor, noneIds);
      expect(next).not.toBe(member);
      expect(await forwarders()).toEqual([next]);
      expect(await sessionDirs()).toEqual([next]);
      expect(await leftoversOf(executor)).toEqual([]);
    } finally {
      await executor.close();
    }
    await expectAllGone(executor);
  });

  it('gives two pooled allow-list executions each its own policy', async () => {
    const executor = await SpawnExecutor.create({ isolation: 'kernel', poolSize: 1 });
    try {
      await executor.settled();
      const noneIds = new Set(executor.idleSandboxIds);
      await executor.execute({ language: 'bash', code: 'true', network: allow([ONE]) });
      const code = `${curl(ONE, '/one')}\n${curl(TWO, '/two')}`;

      const firstMember = await idleAllowMember(executor, noneIds);
      const onlyOne = await executeTracked(
        executor,
        { language: 'bash', code, network: allow([ONE]), timeoutMs: 15_000 },
        firstMember,
      );
      const secondMember = await idleAllowMember(executor, noneIds);
      const onlyTwo = await executeTracked(
        executor,
        { language: 'bash', code, network: allow([TWO]), timeoutMs: 15_000 },
        secondMember,
      );
      expect([onlyOne.taken, onlyTwo.taken]).toEqual([true, true]);
      expect(onlyOne.result.stdout).toMatch(/^canary saw \/one 200\n.* 403\n$/s);
      expect(onlyTwo.result.stdout).toMatch(/^.* 403\ncanary saw \/two 200\n$/s);
      const verdicts = (result: ExecutionResult) =>
        connections(result).map((record) => [record.host, record.verdict] as const);
      expect(verdicts(onlyOne.result)).toEqual([
        [ONE, 'allowed'],
        [TWO, 'denied'],
      ]);
      expect(verdicts(onlyTwo.result)).toEqual([
        [ONE, 'denied'],
        [TWO, 'allowed'],
      ]);
    } finally {
      await executor.close();
    }
    await expectAllGone(executor);
  });

  it('never hands out a member whose forwarder died while it idled', async () => {
    const executor = await SpawnExecutor.create({ isolation: 'kernel', poolSize: 1 });
    try {
      await executor.settled();
      const noneIds = new Set(executor.idleSandboxIds);
      await executor.execute({ language: 'bash', code: 'true', network: allow([ONE]) });
      const member = await idleAllowMember(executor, noneIds);
      const pid = await forwarderPid(member);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid!, 'SIGKILL');
      for (let waited = 0; executor.idleSandboxIds.has(member) && waited < 5_000; waited += 50) await sleep(50);
      expect(executor.idleSandboxIds.has(member)).toBe(false);
      // Discarded whole (sandbox, session dir), and replaced.
      const replacement = await idleAllowMember(executor, noneIds);
      expect(replacement).not.toBe(member);
      expect(await sessionDirs()).toEqual([replacement]);
      const result = await executeTracked(
        executor,
        { language: 'bash', code: curl(ONE, '/after'), network: allow([ONE]), timeoutMs: 15_000 },
        replacement,
      );
      expect([result.taken, result.result.stdout]).toEqual([true, 'canary saw /after 200\n']);
    } finally {
      await executor.close();
    }
    await expectAllGone(executor);
  });
});
