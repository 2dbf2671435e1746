import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RUNNER_PROTOCOL } from '@cordon/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerAvailability } from '../src/availability.js';
import { DEFAULT_IMAGE, RUNTIME_IMAGE_VERSION } from '../src/runtime-image.js';
import { dockerTier } from './support/docker-tier.js';

const available = await dockerTier('docker');
const oldImage = `cordon-image-test-old-protocol:${process.pid}`;
const cli = fileURLToPath(new URL('../../core/dist/cli/main.js', import.meta.url));
const repo = fileURLToPath(new URL('../../..', import.meta.url));

describe.runIf(available)('the runtime image in availability() and cordon doctor', () => {
  beforeAll(() => {
    // The runtime image relabelled as a runner of another protocol (what an old image says).
    const build = spawnSync(
      'docker',
      [
        'build',
        '--quiet',
        '--force-rm',
        '--label',
        'dev.cordon.runner-protocol=1',
        '--label',
        'dev.cordon.runtime-version=0.1.0',
        '-t',
        oldImage,
        '-',
      ],
      { input: `FROM ${DEFAULT_IMAGE}\n`, encoding: 'utf8', env: { ...process.env, DOCKER_BUILDKIT: '0' } },
    );
    expect(build.status, build.stderr).toBe(0);
  });

  afterAll(() => {
    spawnSync('docker', ['rmi', oldImage], { stdio: 'ignore' });
  });

  it('reports the version and protocol labels of a usable image', async () => {
    const availability = await dockerAvailability();
    expect(availability).toMatchObject({
      usable: true,
      image: {
        ref: DEFAULT_IMAGE,
        present: true,
        runtimeVersion: RUNTIME_IMAGE_VERSION,
        runnerProtocol: RUNNER_PROTOCOL,
        expectedProtocol: RUNNER_PROTOCOL,
      },
    });
  });

  it('reports an image of another protocol, and a missing one, with the build command', async () => {
    const old = await dockerAvailability({ image: oldImage });
    expect(old).toMatchObject({
      usable: false,
      image: {
        ref: oldImage,
        present: true,
        runtimeVersion: '0.1.0',
        runnerProtocol: '1',
        expectedProtocol: RUNNER_PROTOCOL,
      },
    });
    expect(old.remedy).toContain('npx cordon image build');
    const missing = await dockerAvailability({ image: 'cordon-image-test-absent:none' });
    expect(missing).toMatchObject({ usable: false, image: { present: false } });
    expect(missing.remedy).toContain('npx cordon image build');
  });

  it('cordon doctor fails on the mismatch and names npx cordon image build', () => {
    const doctor = (image: string, json: boolean) =>
      spawnSync(process.execPath, [cli, 'doctor', ...(json ? ['--json'] : [])], {
        cwd: repo,
        encoding: 'utf8',
        env: { ...process.env, CORDON_DOCKER_IMAGE: image },
        timeout: 60_000,
      });
    const bad = doctor(oldImage, false);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(
      `image ${oldImage}: runtime 0.1.0, runner protocol 1: MISMATCH, this backend speaks ${RUNNER_PROTOCOL}; rebuild it: npx cordon image build`,
    );
    const json = JSON.parse(doctor(oldImage, true).stdout) as {
      backends: { backend: string; image?: { status: string }; remedy?: string }[];
    };
    const row = json.backends.find((entry) => entry.backend === 'docker');
    expect(row?.image?.status).toBe('mismatch');
    expect(row?.remedy).toContain('npx cordon image build');
    const good = doctor(DEFAULT_IMAGE, false);
    expect(good.stdout).toContain(
      `image ${DEFAULT_IMAGE}: runtime ${RUNTIME_IMAGE_VERSION}, runner protocol ${RUNNER_PROTOCOL} (matches this backend)`,
    );
    expect(good.status).toBe(0);
  });
});
