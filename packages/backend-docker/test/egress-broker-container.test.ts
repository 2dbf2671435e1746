import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { PassThrough } from 'node:stream';
import { EgressAuditLog, type AllowNetworkPolicy } from '@cordon/core';
import { LABELS, MANAGED_BY, OWNER_ID } from '@cordon/core/backend';
import { BACKEND_NAME } from '../src/backend-name.js';
import { DOCKER_LABELS, EGRESS_MOUNT } from '../src/container-spec.js';
import { reapDeadOwners } from '../src/reaper.js';
import { describe, expect, it } from 'vitest';
import { DockerApi } from '../src/docker-api.js';
import { BrokerContainer } from '../src/egress/broker-container.js';
import { DEFAULT_IMAGE } from '../src/runtime-image.js';
import { docker, sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';
import { pathCanaryForSuite } from './support/path-canary.js';

const available = await dockerTier('docker');
const LISTED = 'api.listed.test';

const canary = pathCanaryForSuite();

function policy(): AllowNetworkPolicy {
  return {
    mode: 'allow',
    rules: [{ kind: 'name', name: LISTED, ports: [{ from: 80, to: 80 }], source: LISTED }],
    auditLimit: 100,
    caps: {
      maxOpenConnections: 10,
      maxConnections: 100,
      maxBytes: 1_000_000,
      maxConnectionMs: 10_000,
      maxDnsQueries: 100,
    },
    resolve: new Map([[LISTED, { address: '127.0.0.1', port: canary.port }]]),
  };
}

/** A sandbox-like container: `--network none`, read-only, the given uid:gid, the egress volume; runs `code` in Node. */
async function runInSandbox(params: { volume: string; uid: number; code: string }): Promise<string> {
  const api = DockerApi.connect({ apiTimeoutMs: 30_000 });
  const id = await api.createContainer({
    Image: DEFAULT_IMAGE,
    Entrypoint: ['node'],
    Cmd: ['-e', params.code],
    User: `${params.uid}:${params.uid}`,
    Labels: { [LABELS.owner]: OWNER_ID, 'cordon.dev/test': 'egress-broker-container' },
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Mounts: [{ Type: 'volume', Source: params.volume, Target: EGRESS_MOUNT, ReadOnly: true }],
    },
  });
  try {
    const stream = await api.attachContainer(id, { stdin: false });
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    api.demuxStream(stream, stdout, new PassThrough());
    // The attach stream ends after the container's last output.
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
    });
    await api.startContainer(id);
    await api.exitCodeOf(id, { signal: AbortSignal.timeout(30_000) });
    await ended;
    return out.trim();
  } finally {
    await api.removeContainer(id);
  }
}

/** Node in the sandbox: a plain-HTTP request through the session's socket (as the forwarder would relay it). */
const proxiedGet = (socket: string, path: string) => `
const s = require('net').connect(${JSON.stringify(socket)}, () => {
  s.write(JSON.stringify({ v: 1, kind: 'http-proxy' }) + '\\n');
  s.write('GET http://${LISTED}${path} HTTP/1.1\\r\\nHost: ${LISTED}\\r\\nConnection: close\\r\\n\\r\\n');
});
let body = ''; s.on('data', (d) => (body += d)); s.on('close', () => console.log(body.split('\\r\\n\\r\\n')[1] ?? ''));
s.on('error', (e) => console.log(e.code));`;

describe.runIf(available)('docker: the egress broker container', () => {
  it('relays a --network none sandbox through its own session on a shared volume, audits it, and leaves nothing', async () => {
    const api = DockerApi.connect({ apiTimeoutMs: 30_000 });
    const broker = await BrokerContainer.start({ api, image: DEFAULT_IMAGE, executorId: 'egress-test' });
    try {
      const mine = new EgressAuditLog(100);
      const other = new EgressAuditLog(100);
      const [session, otherSession] = await Promise.all([
        broker.open({ session: 'mine', gid: 10_501, policy: policy(), audit: mine }),
        broker.open({ session: 'other', gid: 10_502, policy: policy(), audit: other }),
      ]);
      expect(
        await runInSandbox({ volume: broker.volume, uid: 10_501, code: proxiedGet(session.socket, '/mine') }),
      ).toBe('canary saw /mine');
      // Another execution's sandbox (another group) cannot even reach this one's socket.
      expect(
        await runInSandbox({ volume: broker.volume, uid: 10_502, code: proxiedGet(session.socket, '/stolen') }),
      ).toBe('EACCES');
      // With no network at all, a raw connect fails at once rather than hanging.
      const raw = await runInSandbox({
        volume: broker.volume,
        uid: 10_501,
        code: "const t = Date.now(); require('net').connect(80, '203.0.113.5').on('error', (e) => console.log(e.code, Date.now() - t < 1000));",
      });
      expect(raw).toMatch(/^(ENETUNREACH|EHOSTUNREACH) true$/);
      await Promise.all([session.close(), otherSession.close()]);
      expect(mine.snapshot().records).toEqual([
        expect.objectContaining({ path: 'proxy-http', host: LISTED, verdict: 'allowed', rule: LISTED }),
      ]);
      expect(other.snapshot().records).toEqual([]);
      expect(canary.seen).toEqual(['/mine']);
    } finally {
      await broker.close();
    }
    // Its channel's end closed its stdin: the daemon closed its sessions and exited by itself.
    expect(broker.exitCode).toBe(0);
    const volumes = await docker.listVolumes({ filters: { name: [broker.volume] } });
    expect(volumes.Volumes ?? []).toEqual([]);
    expect((await sessionContainers()).filter((info) => info.Id === broker.containerId)).toEqual([]);
  }, 90_000);

  it("reaps a dead owner's egress volume (its process crashed before close)", async () => {
    const api = DockerApi.connect({ apiTimeoutMs: 30_000 });
    const gone = spawnSync('true').pid ?? 0;
    const name = `cordon-egress-reap-test-${process.pid}`;
    await api.createVolume({
      name,
      labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.owner]: OWNER_ID,
        [LABELS.backend]: BACKEND_NAME,
        [DOCKER_LABELS.ownerPid]: String(gone),
        [DOCKER_LABELS.ownerHost]: hostname(),
      },
    });
    try {
      expect(await reapDeadOwners(api)).toContain(name);
      expect((await docker.listVolumes({ filters: { name: [name] } })).Volumes ?? []).toEqual([]);
    } finally {
      await api.removeVolume(name);
    }
  });
});
