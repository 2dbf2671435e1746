import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DOCKER_LABELS } from '../src/container-spec.js';
import { docker } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';
import { foreignImagesPresent } from './support/foreign-images.js';

const available = (await dockerTier('docker')) && (await foreignImagesPresent());

const DEMO = fileURLToPath(new URL('../../../examples/demo-docker-executor.mjs', import.meta.url));
const HOLD = fileURLToPath(new URL('./support/hold-after-runs.mjs', import.meta.url));
/** What the issue allows a dead caller's containers to outlive it by. */
const GONE_WITHIN_MS = 30_000;

/**
 * The caller runs in a UTS namespace with a host name of its own, so its containers
 * carry that name as owner host: no reaper of another cordon process on this machine
 * (they only reap their own host's dead owners) can remove them. What disappears does
 * so on its own, as on a daemon where no cordon process ever runs again.
 */
function startCaller(script: string, args: string[], image?: string) {
  const host = `cordon-lifetime-${randomBytes(4).toString('hex')}`;
  const child = spawn(
    'unshare',
    ['--uts', 'sh', '-c', `hostname ${host} && exec "$0" "$@"`, process.execPath, script, ...args],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(image ? { DEMO_IMAGE: image } : {}) },
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const printed = async (text: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!output.includes(text)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no "${text}" from the caller: ${output}`);
      await sleep(50);
    }
    return performance.now();
  };
  return { host, child, exited, printed, output: () => output };
}

async function containersOf(host: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${DOCKER_LABELS.ownerHost}=${host}`] } });
  return list.length;
}

/** Milliseconds until the host's containers are all gone (throws past GONE_WITHIN_MS, after removing them). */
async function goneAfter(host: string, since: number): Promise<number> {
  for (;;) {
    if ((await containersOf(host)) === 0) return performance.now() - since;
    if (performance.now() - since > GONE_WITHIN_MS) {
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`${DOCKER_LABELS.ownerHost}=${host}`] },
      });
      await Promise.all(left.map((info) => docker.getContainer(info.Id).remove({ force: true })));
      throw new Error(
        `${left.length} containers (${left.map((info) => info.State).join(', ')}) outlived their caller by ${GONE_WITHIN_MS} ms`,
      );
    }
    await sleep(250);
  }
}

describe.runIf(available)('the drop-in in a caller that never closes it', () => {
  it.each([
    { image: undefined, name: "cordon's runtime image" },
    { image: 'cordon-test/node-python-stripe:1', name: 'an image with node, python3, curl and stripe, none of cordon' },
  ])(
    'lets the original demo end when its work is done, and leaves no container: $name',
    async ({ image }) => {
      const caller = startCaller(DEMO, [], image);
      const done = await caller.printed('done', 120_000);
      const code = await Promise.race([caller.exited, sleep(20_000).then(() => 'still running' as const)]);
      const exitMs = performance.now() - done;
      if (code === 'still running') caller.child.kill('SIGKILL');
      expect(code, caller.output()).toBe(0);
      const lines = caller.output().split('\n');
      for (const title of [
        'ordinary code',
        'Node https.request',
        'Python via child_process.exec',
        'curl',
        'Stripe SDK',
      ])
        expect(
          lines.some((line) => line.startsWith(title)),
          caller.output(),
        ).toBe(true);
      expect(caller.output()).toContain('{"sorted":[1,2,3],"sum":6}');
      expect(caller.output()).not.toContain('reached');
      // Every case ran its tool: blocked by the network, not by a missing python3, curl or stripe.
      expect(caller.output().match(/success=true {2}exit=0/g)).toHaveLength(5);
      expect(caller.output()).toContain('blocked: StripeConnectionError');
      expect(caller.output()).toMatch(/blocked: curl: \(6\)/);
      expect(caller.output()).toMatch(/blocked: urllib\.error\.URLError/);
      const goneMs = await goneAfter(caller.host, done);
      console.log(
        `drop-in demo (${image ?? 'default image'}): exited ${Math.round(exitMs)} ms after its last line; containers gone ${Math.round(goneMs)} ms after it`,
      );
    },
    180_000,
  );

  for (const mode of ['idle', 'running'] as const) {
    it(`leaves no container within ${GONE_WITHIN_MS / 1000} s of a SIGKILL while ${mode}`, async () => {
      const caller = startCaller(HOLD, [mode]);
      await caller.printed(mode, 120_000);
      expect(await containersOf(caller.host)).toBeGreaterThan(0);
      caller.child.kill('SIGKILL');
      await caller.exited;
      const killed = performance.now();
      const goneMs = await goneAfter(caller.host, killed);
      console.log(`drop-in SIGKILLed while ${mode}: its containers were gone ${Math.round(goneMs)} ms later`);
    }, 180_000);
  }
});
