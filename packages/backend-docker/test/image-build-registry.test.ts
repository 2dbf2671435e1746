import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNNER_PROTOCOL } from '@cordon/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimeImage, type RuntimeImageBuild } from '../src/image-build/build-runtime-image.js';
import { defaultCacheDir, readDefinition, rootfsFor } from '../src/image-build/definition.js';
import { ImageBuildUnavailableError } from '../src/image-build/errors.js';
import { dockerTier } from './support/docker-tier.js';

const available = await dockerTier('docker');
const REGISTRY = '/usr/bin/docker-registry';
const TEST_LABEL = 'dev.cordon.test=image-build-registry';
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const builtImage = `cordon-image-test-registry:${suffix}`;
const offlineRepo = `cordon-image-test-offline-${suffix}`;

function docker(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('docker', args, { encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForRegistry(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port}`);
}

describe.runIf(available)('buildRuntimeImage through a registry (a docker-registry on loopback)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'cordon-image-registry-'));
  let registry: ChildProcess | undefined;
  let base = '';
  let closedBase = '';
  const progress: string[] = [];
  let built: RuntimeImageBuild;

  beforeAll(async () => {
    expect(existsSync(REGISTRY), `${REGISTRY} (apt-get install -y docker-registry)`).toBe(true);
    const { tarball } = rootfsFor(defaultCacheDir(), readDefinition().versions);
    expect(existsSync(tarball), `${tarball} (the offline build caches it: npx cordon image build --offline)`).toBe(
      true,
    );
    const port = await freePort();
    closedBase = `127.0.0.1:${await freePort()}/debian:bookworm-slim`;
    writeFileSync(
      join(scratch, 'config.yml'),
      [
        'version: 0.1',
        'log:',
        '  level: warn',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(scratch, 'storage')}`,
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '',
      ].join('\n'),
    );
    registry = spawn(REGISTRY, ['serve', join(scratch, 'config.yml')], { stdio: 'ignore' });
    await waitForRegistry(port, registry);

    // A base built here, standing in for debian:bookworm-slim: the cached rootfs WITHOUT
    // /etc/cordon-rootfs, so the Dockerfile's apt-get step runs inside the build (the
    // build container reaches the Debian mirror, as apt does on these machines).
    base = `127.0.0.1:${port}/debian:bookworm-slim`;
    const imported = spawnSync(
      'bash',
      [
        '-c',
        'set -o pipefail; tar --delete -f - ./etc/cordon-rootfs <"$1" | docker import --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" - "$2"',
        'import',
        tarball,
        base,
      ],
      { encoding: 'utf8', timeout: 300_000 },
    );
    expect(imported.status, imported.stderr).toBe(0);
    expect(docker('push', base).status).toBe(0);
    // Only the registry has it now: the build must pull it.
    expect(docker('rmi', base).status).toBe(0);
    expect(docker('image', 'inspect', base).status).not.toBe(0);

    built = await buildRuntimeImage({
      mode: 'registry',
      base,
      image: builtImage,
      onProgress: (line) => progress.push(line),
    });
  }, 900_000);

  afterAll(() => {
    registry?.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
    const tags = docker('images', '--format', '{{.Repository}}:{{.Tag}}')
      .stdout.split('\n')
      .filter((ref) => ref === builtImage || ref === base || ref.startsWith(`${offlineRepo}:`));
    if (tags.length > 0) docker('rmi', '--force', ...tags);
    expect(docker('ps', '-aq', '--filter', `label=${TEST_LABEL}`).stdout.trim(), 'containers this test started').toBe(
      '',
    );
  });

  it('pulled the base and ran the Dockerfile, apt-get included, FROM it', () => {
    expect(built).toMatchObject({
      image: builtImage,
      mode: 'registry',
      reason: `pulled ${base}`,
      base,
      runnerProtocol: RUNNER_PROTOCOL,
      runtimeVersion: readDefinition().versions.CORDON_RUNTIME_VERSION,
    });
    expect(progress).toContain(`pulling ${base}`);
    expect(progress.some((line) => line.includes('apt-get update'))).toBe(true);
    expect(progress.some((line) => /Get:\d+ http:\/\/deb\.debian\.org/.test(line))).toBe(true);
    expect(built.id).toBe(docker('image', 'inspect', '--format', '{{.Id}}', builtImage).stdout.trim());
  });

  it('labels the image as the offline build does, plus its base', () => {
    const labels = JSON.parse(
      docker('image', 'inspect', '--format', '{{json .Config.Labels}}', builtImage).stdout,
    ) as Record<string, string>;
    const { versions } = readDefinition();
    expect(labels).toMatchObject({
      'dev.cordon.runtime-version': versions.CORDON_RUNTIME_VERSION,
      'dev.cordon.runner-protocol': RUNNER_PROTOCOL,
      'dev.cordon.node-version': versions.NODE_VERSION,
      'dev.cordon.stripe-version': versions.STRIPE_VERSION,
      'dev.cordon.content-hash': built.contentHash,
      'dev.cordon.base-image': base,
    });
  });

  it('runs: node, stripe, the supervisor, and no rootfs marker', () => {
    const run = docker(
      'run',
      '--rm',
      '--label',
      TEST_LABEL,
      '--network',
      'none',
      '--entrypoint',
      'sh',
      builtImage,
      '-c',
      'node --version && node -e "require(\'stripe\')" && test -f /opt/cordon/runner/supervisor.cjs && test ! -e /etc/cordon-rootfs && id -u',
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual([`v${readDefinition().versions.NODE_VERSION}`, '10001']);
  });

  it('registry mode refuses a base no registry serves, naming the offline path', async () => {
    const error = await buildRuntimeImage({ mode: 'registry', base: closedBase, image: builtImage }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ImageBuildUnavailableError);
    expect(error).toMatchObject({ need: 'base-image' });
    expect((error as ImageBuildUnavailableError).remedy).toContain('npx cordon image build --offline');
  });

  it('auto builds offline when the base cannot be pulled, and says why', async () => {
    const lines: string[] = [];
    const result = await buildRuntimeImage({
      mode: 'auto',
      base: closedBase,
      image: `${offlineRepo}:1`,
      onProgress: (line) => lines.push(line),
    });
    expect(result).toMatchObject({ mode: 'offline', image: `${offlineRepo}:1`, runnerProtocol: RUNNER_PROTOCOL });
    expect(result.reason).toContain(`${closedBase} could not be pulled`);
    expect(lines.some((line) => line.startsWith('mode offline:'))).toBe(true);
    // Same definition, same content hash, either path.
    expect(result.contentHash).toBe(built.contentHash);
  });
});
