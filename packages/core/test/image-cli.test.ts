import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { imageCommand, type ImageBuildResult, type RuntimeImageBuilder } from '../src/cli/image.js';
import { imageLine, imageStatus } from '../src/cli/doctor.js';
import { BackendUnavailableError, InvalidRequestError } from '../src/errors.js';

const RESULT: ImageBuildResult = {
  image: 'cordon-runtime:0.2.0',
  id: 'sha256:abc',
  mode: 'registry',
  reason: 'pulled debian:bookworm-slim',
  base: 'debian:bookworm-slim',
  runtimeVersion: '0.2.0',
  runnerProtocol: '2',
  contentHash: '0123456789abcdef',
  nodeVersion: '22.23.3',
  stripeVersion: '23.1.0',
  durationMs: 12_345,
};

type BuildCall = Parameters<RuntimeImageBuilder['buildRuntimeImage']>[0];

/** Runs `cordon image <args>` in process with a builder that records its call. */
async function imageBuild(args: string[], outcome: ImageBuildResult | Error = RESULT) {
  const calls: BuildCall[] = [];
  const builder: RuntimeImageBuilder = {
    buildRuntimeImage: (options) => {
      calls.push(options);
      options.onProgress?.('step one\x1b[2J');
      return outcome instanceof Error ? Promise.reject(outcome) : Promise.resolve(outcome);
    },
  };
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    await imageCommand({ loadBuilder: () => Promise.resolve(builder) }).parseAsync(['build', ...args], {
      from: 'user',
    });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const code = process.exitCode;
  return { calls, stdout, stderr, code };
}

describe('cordon image build', () => {
  beforeEach(() => {
    process.exitCode = undefined;
  });
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('defaults to auto and prints the result as a table, progress on stderr (escaped)', async () => {
    const run = await imageBuild([]);
    expect(run.calls).toHaveLength(1);
    expect(run.calls[0]).toMatchObject({ mode: 'auto' });
    expect(run.calls[0]).not.toHaveProperty('base');
    expect(run.calls[0]).not.toHaveProperty('image');
    expect(run.calls[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(run.stderr).toBe('step one\\x1b[2J\n');
    expect(run.stdout).toContain('image            cordon-runtime:0.2.0\n');
    expect(run.stdout).toContain('mode             registry (pulled debian:bookworm-slim)\n');
    expect(run.stdout).toContain('runner protocol  2\n');
    expect(run.stdout).toContain('took             12.3 s\n');
    expect(run.code).toBe(0);
  });

  it('passes --offline/--registry, --base and --image, and prints exactly the JSON result', async () => {
    const offline = await imageBuild(['--offline', '--image', 'mine:1', '--json'], { ...RESULT, mode: 'offline' });
    expect(offline.calls[0]).toMatchObject({ mode: 'offline', image: 'mine:1' });
    expect(JSON.parse(offline.stdout)).toEqual({ ...RESULT, mode: 'offline' });
    const registry = await imageBuild(['--registry', '--base', '127.0.0.1:5000/debian:bookworm-slim']);
    expect(registry.calls[0]).toMatchObject({ mode: 'registry', base: '127.0.0.1:5000/debian:bookworm-slim' });
  });

  it('reports a bad option with exit 2 and an unavailable build with exit 3 (JSON on stdout)', async () => {
    const invalid = await imageBuild(['--json'], new InvalidRequestError('image', 'Bad Ref', 'must be a reference'));
    expect(invalid.code).toBe(2);
    expect(JSON.parse(invalid.stdout)).toMatchObject({
      error: { name: 'InvalidRequestError', context: { field: 'image' } },
    });
    const unavailable = await imageBuild(
      [],
      new BackendUnavailableError('docker', 'debootstrap is not installed', 'apt-get install -y debootstrap'),
    );
    expect(unavailable.code).toBe(3);
    expect(unavailable.stderr).toContain('debootstrap is not installed. apt-get install -y debootstrap');
    expect(unavailable.stdout).toBe('');
  });
});

describe('cordon image build, the real command', () => {
  const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
  const repo = fileURLToPath(new URL('../../..', import.meta.url));
  const cordon = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: repo, encoding: 'utf8' });

  it('refuses --offline with --registry', () => {
    const run = cordon('image', 'build', '--offline', '--registry');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("option '--offline' cannot be used with option '--registry'");
  });

  it('loads @cordon/backend-docker on demand, which names a bad --image', () => {
    const run = cordon('image', 'build', '--image', 'Bad Ref', '--json');
    expect(run.status).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({
      error: { name: 'InvalidRequestError', context: { field: 'image', value: 'Bad Ref' } },
    });
  });
});

describe("cordon doctor's image line", () => {
  const report = { ref: 'cordon-runtime:0.2.0', expectedProtocol: '2' };

  it('says whether the runner protocol matches, and names the command that rebuilds it', () => {
    const ok = { ...report, present: true, runtimeVersion: '0.2.0', runnerProtocol: '2' };
    expect(imageStatus(ok)).toBe('ok');
    expect(imageLine({ ...ok, status: 'ok' })).toBe(
      'image cordon-runtime:0.2.0: runtime 0.2.0, runner protocol 2 (matches this backend)',
    );
    const old = { ...report, present: true, runtimeVersion: '0.1.0', runnerProtocol: '1' };
    expect(imageStatus(old)).toBe('mismatch');
    expect(imageLine({ ...old, status: 'mismatch' })).toMatch(
      /runtime 0\.1\.0, runner protocol 1: MISMATCH, this backend speaks 2; rebuild it: npx cordon image build$/,
    );
    // No label at all: a user's own image, which gets cordon's runner at each start.
    expect(imageStatus({ ...report, present: true })).toBe('own');
    expect(imageLine({ ...report, present: true, status: 'own' })).toContain("not cordon's (no runner label)");
    expect(imageStatus({ ...report, present: false })).toBe('missing');
    expect(imageLine({ ...report, present: false, status: 'missing' })).toContain(
      'not present; build it: npx cordon image build',
    );
    expect(imageStatus({ ...report, present: 'unknown' })).toBe('unknown');
  });
});
