import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { promises as dns } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { CanarySet } from '../src/conformance/canaries/set.js';
import { runConformance } from '../src/conformance/suite.js';
import { PLANTED_SECRET_NAME } from '../src/conformance/suite.js';
import type { RunOutcome } from '../src/backend/base-executor.js';
import { UnisolatedExecutor, unisolatedAdapter } from './support/unisolated-executor.js';

const network = { bindIPv4: '127.0.0.1', reachIPv4: '127.0.0.1', sharesHostLoopback: true };
const secret = { marker: 'cordon-host-canary-test', name: 'CORDON_TEST_SECRET', value: 'not-a-secret' };

function sendTcp(target: { host?: string; port?: number; path?: string }, payload: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = target.path ? connect(target.path) : connect(target.port ?? 0, target.host);
    socket.once('error', reject);
    socket.once('connect', () => socket.end(payload, () => resolve()));
  });
}

describe('canaries', () => {
  it('record each nonce where it arrived, answer DNS, and leave nothing behind when closed', async () => {
    const canaries = await CanarySet.start(network, secret);
    const { endpoints, log } = canaries;
    const hostPid = endpoints.hostPid;
    try {
      await sendTcp(endpoints.tcp, 'GET /tcp-nonce-1 HTTP/1.1\r\nHost: x\r\n\r\n');
      await sendTcp({ path: endpoints.unixPath }, 'unix-nonce-2');
      await new Promise<void>((resolve, reject) => {
        const udp = createSocket('udp4');
        udp.send(
          'udp-nonce-3',
          endpoints.udp.port,
          endpoints.udp.host,
          (error) => (udp.close(), error ? reject(error) : resolve()),
        );
      });
      const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`${endpoints.dns.host}:${endpoints.dns.port}`]);
      expect(await resolver.resolve4(`dnsnonce4.${endpoints.dnsZone}`)).toEqual(['127.0.0.1']);

      expect(await log.waitFor('tcp-nonce-1', 2000)).toEqual([`tcp 127.0.0.1:${endpoints.tcp.port}`]);
      expect(await log.waitFor('unix-nonce-2', 2000)).toEqual([`unix ${endpoints.unixPath}`]);
      expect(await log.waitFor('udp-nonce-3', 2000)).toEqual([`udp 127.0.0.1:${endpoints.udp.port}`]);
      expect(await log.waitFor('DNSNONCE4', 2000)).toEqual([`dns udp 127.0.0.1:${endpoints.dns.port}`]);
      expect(await log.waitFor('never-sent', 200)).toEqual([]);
      expect(() => process.kill(hostPid, 0)).not.toThrow();
    } finally {
      await canaries.close();
    }
    expect(existsSync(canaries.tempDir)).toBe(false);
    expect(() => process.kill(hostPid, 0)).toThrow();
    await expect(sendTcp(endpoints.tcp, 'late')).rejects.toThrow(/ECONNREFUSED/);
  });
});

/** Never returns from a run, even after its timeout: the suite must not hang on it. */
class HangingExecutor extends UnisolatedExecutor {
  protected override run(): Promise<RunOutcome> {
    return new Promise<RunOutcome>(() => undefined);
  }
}

describe('runConformance', () => {
  it('gives up on an execution that never returns, and reports it invalid', async () => {
    // Not closed: close() would wait for the run that never ends.
    const report = await runConformance(unisolatedAdapter(new HangingExecutor()), { only: ['timeout-tree'] });
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({
      id: 'timeout-tree',
      verdict: 'invalid',
      detail: expect.stringMatching(/did not return within 16500 ms/) as unknown,
    });
  }, 40_000);

  it('refuses with a typed error when the canaries cannot listen where the adapter says', async () => {
    const executor = new UnisolatedExecutor();
    try {
      const adapter = {
        ...unisolatedAdapter(executor),
        canaryNetwork: { bindIPv4: '203.0.113.254', reachIPv4: '203.0.113.254', sharesHostLoopback: false },
      };
      await expect(runConformance(adapter)).rejects.toMatchObject({
        name: 'BackendUnavailableError',
        message: expect.stringMatching(/canaries could not listen on 203\.0\.113\.254/) as unknown,
      });
    } finally {
      await executor.close();
    }
  });

  it('stops on abort, cleans up, and restores the environment', async () => {
    const executor = new UnisolatedExecutor();
    const controller = new AbortController();
    const before = process.env[PLANTED_SECRET_NAME];
    try {
      const run = runConformance(unisolatedAdapter(executor), {
        only: ['S1', 'P1'],
        signal: controller.signal,
        onProgress: (event) => {
          if (event.verdict !== undefined) controller.abort(new Error('stop'));
        },
      });
      await expect(run).rejects.toThrow('stop');
    } finally {
      await executor.close();
    }
    expect(process.env[PLANTED_SECRET_NAME]).toBe(before);
    expect(executor.leftoverWorkdirs()).toEqual([]);
  });
});
