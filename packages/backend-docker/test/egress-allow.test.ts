import type { EgressRecord, ExecutionEgressEvent } from '@cordon/core';
import { LABELS, OWNER_ID } from '@cordon/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { docker, sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';
import { pathCanaryForSuite } from './support/path-canary.js';

const LISTED = 'api.listed.test';
const UNLISTED = 'other.unlisted.test';

const canary = pathCanaryForSuite();

function network() {
  return {
    mode: 'allow' as const,
    allow: [LISTED],
    // Both test names go to the canary: only the policy tells them apart.
    resolve: { [LISTED]: `127.0.0.1:${canary.port}`, [UNLISTED]: `127.0.0.1:${canary.port}` },
  };
}

const describeRecord = (record: EgressRecord) =>
  `${record.verdict} ${record.path} ${record.host ?? record.address ?? '?'}${record.port ? `:${record.port}` : ''}`;

/** The broker's container and volume of this test process (by owner label and role). */
async function brokerLeftovers(): Promise<string[]> {
  const filters = { label: [`${LABELS.owner}=${OWNER_ID}`, 'cordon.dev/role=egress-broker'] };
  const containers = await docker.listContainers({ all: true, filters });
  const volumes = (await docker.listVolumes({ filters })).Volumes ?? [];
  return [...containers.map((info) => `container ${info.Id}`), ...volumes.map((volume) => `volume ${volume.Name}`)];
}

for (const runtime of ['runc', 'runsc'] as const) {
  const available = await dockerTier(runtime === 'runc' ? 'docker' : 'gvisor', { runtime });

  describe.runIf(available)(`docker allow-lists (runtime ${runtime})`, () => {
    let executor: DockerBackendExecutor;

    beforeAll(async () => {
      executor = await DockerBackendExecutor.create({ runtime, poolSize: 0 });
    });

    afterAll(async () => {
      await executor?.close();
      expect(await sessionContainers()).toEqual([]);
      expect(await brokerLeftovers()).toEqual([]);
    });

    it('declares proxy-only capture, and starts no broker before an allow-list runs', async () => {
      expect(executor.capabilities().egress).toMatchObject({
        capture: 'proxy-only',
        observes: ['dns', 'proxy-connect', 'proxy-http', 'socks'],
      });
      await executor.execute({ language: 'bash', code: 'true' });
      expect(await brokerLeftovers()).toEqual([]);
    });

    it('reaches a listed name through every proxy-aware client, denies an unlisted one, and audits each', async () => {
      const code = `
const get = (host) => new Promise((resolve) => require('node:http').get({ host, path: '/node-http-' + host }, (r) => { r.resume(); r.on('end', () => resolve(r.statusCode)); }).on('error', (e) => resolve(e.code)));
(async () => {
  console.log('http.get', await get('${LISTED}'), await get('${UNLISTED}'));
  const f = await fetch('http://${LISTED}/node-fetch').then((r) => r.text(), (e) => String(e.cause?.code ?? e));
  console.log('fetch', f);
  // An agent of the library's own (as the Stripe SDK makes) goes through the proxy too.
  const agent = new (require('node:http').Agent)({ keepAlive: true });
  const own = await new Promise((resolve) => require('node:http').get({ host: '${LISTED}', path: '/own-agent', agent }, (r) => { r.resume(); r.on('end', () => resolve(r.statusCode)); }).on('error', (e) => resolve(e.code)));
  agent.destroy();
  console.log('own agent', own);
  // So does a Node the program starts itself (NODE_OPTIONS carries the preload).
  console.log(require('node:child_process').execFileSync('node', ['-e', "require('http').get({ host: '${LISTED}', path: '/child', agent: new (require('http').Agent)() }, (r) => console.log('child', r.statusCode))"]).toString().trim());
})();`;
      const node = await executor.execute({ language: 'node', code, network: network(), timeoutMs: 20_000 });
      expect(node.stderr).toBe('');
      expect(node.stdout).toContain('http.get 200 403');
      expect(node.stdout).toContain('fetch canary saw /node-fetch');
      expect(node.stdout).toContain('own agent 200');
      expect(node.stdout).toContain('child 200');
      const bash = await executor.execute({
        language: 'bash',
        code: `curl -sS http://${LISTED}/curl; echo; curl -sS -o /dev/null -w '%{http_code}\\n' http://${UNLISTED}/curl-unlisted
python3 -c "import urllib.request; print(urllib.request.urlopen('http://${LISTED}/python').read().decode())"
wget -q -O - http://${LISTED}/wget; echo`,
        network: network(),
        timeoutMs: 20_000,
      });
      expect(bash.stdout.split('\n')).toEqual([
        'canary saw /curl',
        '403',
        'canary saw /python',
        'canary saw /wget',
        '',
      ]);
      expect(canary.seen).toEqual(
        expect.arrayContaining([`/node-http-${LISTED}`, '/node-fetch', '/curl', '/python', '/wget']),
      );
      expect(canary.seen.some((path) => path.includes('unlisted') || path.includes(UNLISTED))).toBe(false);
      const records = bash.egress!.records.map(describeRecord);
      expect(records).toEqual(
        expect.arrayContaining([`allowed proxy-http ${LISTED}:80`, `denied proxy-http ${UNLISTED}:80`]),
      );
      expect(node.egress!.records.map(describeRecord)).toEqual(
        expect.arrayContaining([`allowed proxy-http ${LISTED}:80`, `denied proxy-http ${UNLISTED}:80`]),
      );
    });

    it('refuses a raw connection at once and records the name it resolved', async () => {
      const code = `
const started = Date.now();
require('node:dns').lookup('${LISTED}', (error, address) => {
  const socket = require('node:net').connect(${canary.port}, address);
  socket.on('connect', () => console.log('connected'));
  socket.on('error', (e) => console.log(address, e.code, Date.now() - started < 2000 ? 'fast' : 'slow'));
});`;
      const result = await executor.execute({ language: 'node', code, network: network(), timeoutMs: 20_000 });
      expect(result.stdout).toMatch(/^198\.1[89]\.\d+\.\d+ (ENETUNREACH|EHOSTUNREACH) fast\n$/);
      expect(result.egress!.records.map(describeRecord)).toContain(`allowed dns ${LISTED}`);
    });

    it('serves allow-lists from a pool of their own, made on the first, each member with its own session', async () => {
      const pooled = await DockerBackendExecutor.create({ runtime, poolSize: 1, poolLanguages: 'node' });
      try {
        await pooled.settled();
        const noneMembers = new Set(pooled.idleSandboxIds);
        expect(noneMembers.size).toBe(1);
        const run = (index: number) =>
          pooled.execute({
            language: 'node',
            code: `require('node:http').get({ host: '${LISTED}', path: '/pooled-${index}' }, (r) => { r.resume(); r.on('end', () => console.log(r.statusCode)); })`,
            network: network(),
            timeoutMs: 20_000,
          });
        // The first is cold and makes the pool; the next are taken from it.
        for (const index of [0, 1, 2]) {
          const before = new Set(pooled.idleSandboxIds);
          const result = await run(index);
          expect(result.stdout).toBe('200\n');
          expect(result.egress!.records.filter((record) => record.path !== 'dns').map(describeRecord)).toEqual([
            `allowed proxy-http ${LISTED}:80`,
          ]);
          expect(canary.seen).toContain(`/pooled-${index}`);
          if (index > 0) {
            const taken = [...before].filter((id) => !noneMembers.has(id) && !pooled.idleSandboxIds.has(id));
            expect(taken, 'an allow-list pool member served the run').toHaveLength(1);
          }
          await pooled.settled();
        }
        expect(pooled.idleSandboxIds.size).toBe(2);
      } finally {
        await pooled.close();
      }
    });

    it('starts another broker when its broker died', async () => {
      const brokers = async () =>
        (
          await docker.listContainers({
            filters: { label: [`cordon.dev/executor=${executor.executorId}`, 'cordon.dev/role=egress-broker'] },
          })
        ).map((info) => info.Id);
      const request = {
        language: 'bash' as const,
        code: `curl -sS http://${LISTED}/after-kill`,
        network: network(),
        timeoutMs: 20_000,
      };
      expect((await executor.execute(request)).stdout).toBe('canary saw /after-kill');
      const [first] = await brokers();
      expect(first).toBeDefined();
      await docker.getContainer(first!).kill();
      // The attach ends when the container dies: wait for the channel to notice.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const again = await executor.execute(request);
      expect(again.stdout).toBe('canary saw /after-kill');
      const now = await brokers();
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(first);
    });

    it('attributes every record to its own execution when many run at once', async () => {
      const count = 12;
      const events: ExecutionEgressEvent[] = [];
      const listener = (event: ExecutionEgressEvent) => events.push(event);
      executor.events.on('egress', listener);
      try {
        const results = await Promise.all(
          Array.from({ length: count }, (_, index) =>
            executor.execute({
              language: 'bash',
              code: `curl -sS http://${LISTED}/many-${index}; curl -sS -o /dev/null http://${UNLISTED}/many-${index}`,
              network: network(),
              timeoutMs: 30_000,
              tags: { index: String(index) },
            }),
          ),
        );
        results.forEach((result, index) => {
          expect(result.stdout).toBe(`canary saw /many-${index}`);
          const records = result.egress!.records;
          expect(records.map(describeRecord).sort()).toEqual(
            [`allowed proxy-http ${LISTED}:80`, `denied proxy-http ${UNLISTED}:80`].sort(),
          );
          const own = events.filter((event) => event.id === result.id);
          expect(own).toHaveLength(2);
        });
      } finally {
        executor.events.off('egress', listener);
      }
    });
  });
}
