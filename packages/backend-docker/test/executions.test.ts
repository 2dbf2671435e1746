import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionRequest, ExecutionResult } from '@cordon/core';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';

const available = await dockerTier('docker');
const MiB = 1024 * 1024;

describe.runIf(available)('docker backend: one execution', () => {
  let executor: DockerBackendExecutor;
  const run = (request: ExecutionRequest): Promise<ExecutionResult> => executor.execute(request);

  beforeAll(async () => {
    executor = await DockerBackendExecutor.create({ poolSize: 1 });
  });

  afterAll(async () => {
    await executor?.close();
    expect(await sessionContainers()).toEqual([]);
  });

  it.each([
    ['node', 'console.log("hello from node", process.version)', /^hello from node v22\./],
    ['python', 'import sys; print("hello from python", sys.version_info[0])', /^hello from python 3\n$/],
    ['bash', 'echo "hello from bash $BASH_VERSION"', /^hello from bash 5\./],
  ] as const)('says hello in %s', async (language, code, expected) => {
    const result = await run({ language, code });
    expect(result).toMatchObject({ status: 'ok', exitCode: 0, signal: null, stderr: '', backend: 'docker' });
    expect(result.stdout).toMatch(expected);
  });

  it('puts files in the working directory and collects files back', async () => {
    const result = await run({
      language: 'python',
      code: [
        'import os',
        'data = open("in/data.txt").read()',
        'os.makedirs("out/deep", exist_ok=True)',
        'open("out/deep/result.txt", "w").write(data.upper())',
        'open("out/skip.bin", "wb").write(bytes([0, 255]))',
        'open("top.txt", "w").write("top")',
        'print(os.getcwd())',
      ].join('\n'),
      files: { 'in/data.txt': 'payload', 'bin.dat': new Uint8Array([1, 2, 3]) },
      collectFiles: ['out/**/*.txt', 'top.txt', 'bin.dat'],
    });
    expect(result.status).toBe('ok');
    expect(result.stdout).toBe('/workspace\n');
    const files = Object.fromEntries(
      result.files.map((file) => [file.path, Buffer.from(file.content).toString('hex')]),
    );
    expect(files).toEqual({
      'out/deep/result.txt': Buffer.from('PAYLOAD').toString('hex'),
      'top.txt': Buffer.from('top').toString('hex'),
      'bin.dat': '010203',
    });
    expect(result.filesTruncated).toBe(false);
  });

  it('feeds stdin and closes it', async () => {
    const stdin = 'line one\nline two\n';
    const node = await run({
      language: 'node',
      code: 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(s)))',
      stdin,
    });
    expect(node.stdout).toBe(`${JSON.stringify(stdin)}\n`);
    const python = await run({ language: 'python', code: 'import sys; print(len(sys.stdin.read()))', stdin });
    expect(python.stdout).toBe(`${stdin.length}\n`);
    const bash = await run({ language: 'bash', code: 'wc -l', stdin });
    expect(bash.stdout.trim()).toBe('2');
    const none = await run({ language: 'bash', code: 'cat; echo done' });
    expect(none.stdout).toBe('done\n');
  });

  it('passes only the given environment', async () => {
    const result = await run({
      language: 'node',
      code: 'console.log(JSON.stringify(process.env))',
      env: { GREETING: 'hi' },
    });
    expect(Object.keys(JSON.parse(result.stdout) as object).sort()).toEqual(['GREETING', 'HOME', 'PATH']);
  });

  it('passes exit codes and signals through', async () => {
    expect(await run({ language: 'node', code: 'process.exitCode = 3' })).toMatchObject({
      status: 'error',
      exitCode: 3,
      signal: null,
    });
    expect(await run({ language: 'python', code: 'import sys; sys.exit(7)' })).toMatchObject({
      status: 'error',
      exitCode: 7,
      signal: null,
    });
    expect(await run({ language: 'bash', code: 'exit 42' })).toMatchObject({
      status: 'error',
      exitCode: 42,
      signal: null,
    });
    expect(await run({ language: 'bash', code: 'kill -TERM $$' })).toMatchObject({
      status: 'error',
      exitCode: null,
      signal: 'SIGTERM',
    });
    expect(await run({ language: 'node', code: 'process.kill(process.pid, "SIGKILL")' })).toMatchObject({
      status: 'error',
      exitCode: null,
      signal: 'SIGKILL',
    });
    const thrown = await run({ language: 'node', code: 'throw new Error("boom")' });
    expect(thrown).toMatchObject({ status: 'error', exitCode: 1 });
    expect(thrown.stderr).toContain('Error: boom');
    const raised = await run({ language: 'python', code: 'raise ValueError("bang")' });
    expect(raised).toMatchObject({ status: 'error', exitCode: 1 });
    expect(raised.stderr).toMatch(/File "\/workspace\/main.py", line 1[\s\S]*ValueError: bang/);
  });

  it('kills on timeout and returns promptly', async () => {
    const started = performance.now();
    const result = await run({
      language: 'node',
      code: 'console.log("started"); setInterval(() => {}, 1000)',
      timeoutMs: 1500,
    });
    expect(result).toMatchObject({ status: 'timeout', exitCode: null, stdout: 'started\n' });
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('kills on abort', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 800);
    const started = performance.now();
    const result = await run({
      language: 'python',
      code: 'import time\nwhile True: time.sleep(1)',
      signal: controller.signal,
    });
    expect(result.status).toBe('aborted');
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('reports the memory limit as oom', async () => {
    const limits = { memoryBytes: 64 * MiB };
    const node = await run({
      language: 'node',
      code: 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))',
      limits,
      timeoutMs: 20_000,
    });
    expect(node).toMatchObject({ status: 'oom' });
    const python = await run({
      language: 'python',
      code: 'a = []\nwhile True: a.append(bytearray(1 << 20))',
      limits,
      timeoutMs: 20_000,
    });
    expect(python).toMatchObject({ status: 'oom' });
    // The OOM killer hits a child of the runner: the trailer says SIGKILL, the daemon says OOMKilled.
    const child = await run({
      language: 'bash',
      code: 'exec python3 -c "a=[]\nwhile True: a.append(bytearray(1<<20))"',
      limits,
      timeoutMs: 20_000,
    });
    expect(child).toMatchObject({ status: 'oom' });
  });

  it('caps output while streaming', async () => {
    const chunks: string[] = [];
    const result = await run({
      language: 'node',
      code: 'process.stdout.write("x".repeat(300000)); process.stderr.write("e".repeat(10))',
      limits: { outputBytes: 1000 },
      onStdout: (chunk) => chunks.push(chunk),
    });
    expect(result).toMatchObject({ status: 'ok', stdoutTruncated: true, stderrTruncated: false, stderr: 'eeeeeeeeee' });
    expect(result.stdout).toBe('x'.repeat(1000));
    expect(chunks.join('')).toBe('x'.repeat(1000));
  });

  it('runs hardened: the program non-root without capabilities, no-new-privileges, read-only root, only loopback', async () => {
    const result = await run({
      language: 'bash',
      code: [
        'id -u; id -g',
        'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status',
        'touch /etc/x 2>/dev/null && echo root-writable || echo root-readonly',
        'touch /workspace/ok /tmp/ok && echo tmpfs-writable',
        'ls /sys/class/net | tr "\\n" " "; echo',
        'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max',
        'ulimit -n',
      ].join('\n'),
    });
    expect(result.status).toBe('ok');
    const [uid, gid, ...rest] = result.stdout.split('\n');
    // A uid of its own (see uid-lease.ts), not the image's shared 10001.
    expect(Number(uid)).toBeGreaterThanOrEqual(1_600_000_000);
    expect(gid).toBe(uid);
    expect(rest).toEqual([
      expect.stringMatching(/^CapEff:\t0+$/),
      'NoNewPrivs:\t1',
      'root-readonly',
      'tmpfs-writable',
      'lo ',
      // limits.pids plus the supervisor's own tasks (tini, node's threads).
      '272',
      '1024',
      '',
    ]);
  });

  it('refuses nothing it enforces and reports kernel isolation', () => {
    const capabilities = executor.capabilities();
    expect(capabilities.network).toBe('kernel');
    expect(capabilities.limits).toEqual({
      memoryBytes: 'container',
      cpus: 'container',
      pids: 'container',
      outputBytes: 'streaming',
      diskBytes: 'tmpfs',
    });
  });
});
