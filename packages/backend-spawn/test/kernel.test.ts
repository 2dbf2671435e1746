import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { expectedLauncher } from './expected-launcher.js';
import { leftoversOf, sleep, startCanary } from './helpers.js';

const MiB = 1024 * 1024;
let executor: SpawnExecutor;

beforeAll(async () => {
  executor = await SpawnExecutor.create({});
});
afterAll(async () => {
  await executor?.close();
});

async function expectNoLeftovers(): Promise<void> {
  expect(await leftoversOf(executor)).toEqual([]);
}

describe('spawn backend, kernel isolation', () => {
  it('is the kernel isolation on this machine, with cgroup limits', () => {
    expect(executor.isolation).toBe('kernel');
    expect(executor.tier).toBe('kernel'); // the deprecated name, for one release
    expect(executor.launcher).toBe(expectedLauncher());
    const capabilities = executor.capabilities();
    expect(capabilities.network).toBe('kernel');
    expect(capabilities.limits).toMatchObject({
      memoryBytes: 'cgroup',
      pids: 'cgroup',
      cpus: 'cgroup',
      diskBytes: 'tmpfs',
      outputBytes: 'streaming',
    });
  });

  it('runs ordinary code in node, python and bash', async () => {
    const node = await executor.execute({ language: 'node', code: 'console.log(21 * 2)' });
    const python = await executor.execute({ language: 'python', code: 'print(sum(range(10)))' });
    const bash = await executor.execute({ language: 'bash', code: 'echo "$((6 * 7))" >&2' });
    expect([node.status, node.stdout]).toEqual(['ok', '42\n']);
    expect([python.status, python.stdout]).toEqual(['ok', '45\n']);
    expect([bash.status, bash.stderr]).toEqual(['ok', '42\n']);
    await expectNoLeftovers();
  });

  it('runs ESM node code (import, top-level await)', async () => {
    const result = await executor.execute({
      language: 'node',
      code: "import { platform } from 'node:os';\nawait Promise.resolve();\nconsole.log(platform());",
    });
    expect([result.status, result.stdout]).toEqual(['ok', 'linux\n']);
  });

  it('passes stdin and exactly the requested env, never the host env', async () => {
    process.env.CORDON_TEST_HOST_SECRET = 'host-secret-value';
    try {
      const result = await executor.execute({
        language: 'python',
        code: 'import os, sys\nprint(sys.stdin.read().upper())\nprint(sorted(os.environ))\nprint(os.environ["GREETING"])\ntry:\n    print(open("/proc/1/environ").read().count("host-secret"))\nexcept PermissionError:\n    print("unreadable")',
        stdin: 'hello',
        env: { GREETING: 'hi there' },
      });
      expect(result.status).toBe('ok');
      const [stdin, names, greeting, secretsInInit] = result.stdout.trim().split('\n');
      expect(stdin).toBe('HELLO');
      expect(names).not.toContain('CORDON_TEST_HOST_SECRET');
      expect(names).toContain("'GREETING'");
      expect(greeting).toBe('hi there');
      // The runner (PID 1) is not dumpable: its environment cannot even be opened.
      expect(secretsInInit).toBe('unreadable');
    } finally {
      delete process.env.CORDON_TEST_HOST_SECRET;
    }
  });

  it('writes files in and collects files out, skipping symlinks', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: 'cat data/in.txt > out.txt; echo more >> out.txt; mkdir -p reports; echo r > reports/a.json; ln -s /etc/passwd leak.txt; pwd',
      files: { 'data/in.txt': 'input\n' },
      collectFiles: ['*.txt', 'reports/**'],
    });
    expect(result.status).toBe('ok');
    expect(result.stdout).toBe('/sandbox/work\n');
    expect(result.files.map((file) => [file.path, Buffer.from(file.content).toString()])).toEqual([
      ['out.txt', 'input\nmore\n'],
      ['reports/a.json', 'r\n'],
    ]);
    expect(result.filesTruncated).toBe(false);
  });

  it('flags collected files past the size cap', async () => {
    // The collection cap is min(diskBytes, 32 MiB): it bounds the caller's memory.
    const result = await executor.execute({
      language: 'bash',
      code: 'head -c 20000000 /dev/zero > a.bin; head -c 20000000 /dev/zero > b.bin; echo small > c.txt',
      collectFiles: ['*.bin', '*.txt'],
    });
    expect(result.status).toBe('ok');
    expect(result.files.map((file) => [file.path, file.content.byteLength])).toEqual([
      ['a.bin', 20_000_000],
      ['c.txt', 6],
    ]);
    expect(result.filesTruncated).toBe(true);
    expect(result.warnings.join('\n')).toMatch(/"b\.bin" left out: 20000000 bytes would pass the 33554432-byte cap/);
  });

  it('caps the working directory and /tmp with diskBytes', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: 'head -c 3000000 /dev/zero > /tmp/big',
      limits: { diskBytes: 2 * MiB },
    });
    expect(result.status).toBe('error');
    expect(result.stderr).toMatch(/No space left on device/);
  });

  it("honours the caller's Node start-up settings (NODE_OPTIONS) and every package directory on NODE_PATH", async () => {
    const result = await executor.execute({
      language: 'node',
      code: "console.log(process.title === 'cordon-options', require('module')._nodeModulePaths && require.resolve.paths('x').includes('/extra'))",
      env: { NODE_OPTIONS: '--max-old-space-size=100 --title=cordon-options', NODE_PATH: '/extra' },
    });
    expect(result.stdout).toBe('true true\n');
  });

  it('passes exit codes and signals through faithfully', async () => {
    const exit3 = await executor.execute({ language: 'bash', code: 'exit 3' });
    const exit143 = await executor.execute({ language: 'bash', code: 'exit 143' });
    const killed = await executor.execute({ language: 'node', code: "process.kill(process.pid, 'SIGTERM')" });
    expect([exit3.status, exit3.exitCode, exit3.signal]).toEqual(['error', 3, null]);
    expect([exit143.exitCode, exit143.signal]).toEqual([143, null]);
    expect([killed.status, killed.exitCode, killed.signal]).toEqual(['error', null, 'SIGTERM']);
  });

  it('times out and kills the whole tree: a grandchild never acts after the timeout', async () => {
    await using canary = await startCanary();
    // Network open, so a surviving grandchild could reach the host canary.
    const started = performance.now();
    const result = await executor.execute({
      language: 'bash',
      code: `(sleep 1; echo survived > /dev/tcp/127.0.0.1/${canary.port}) & disown; sleep 30`,
      network: 'open',
      timeoutMs: 400,
    });
    expect(result.status).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(3000);
    await sleep(1500);
    expect(canary.connections).toBe(0);
    await expectNoLeftovers();
  });

  it('aborts on the caller signal and leaves nothing', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const result = await executor.execute({
      language: 'node',
      code: 'setInterval(() => {}, 1000)',
      signal: controller.signal,
    });
    expect(result.status).toBe('aborted');
    await expectNoLeftovers();
  });

  it('caps output while streaming', async () => {
    const result = await executor.execute({
      language: 'python',
      code: 'import sys\nfor _ in range(200): sys.stdout.write("x" * 10000)',
      limits: { outputBytes: 1000 },
    });
    expect(result.status).toBe('ok');
    expect(result.stdout).toHaveLength(1000);
    expect(result.stdoutTruncated).toBe(true);
  });

  it('reports the memory limit as oom and leaves nothing', async () => {
    const result = await executor.execute({
      language: 'node',
      code: 'const keep = []; for (;;) keep.push(Buffer.alloc(8 * 1024 * 1024, 1));',
      limits: { memoryBytes: 64 * MiB },
    });
    expect(result.status).toBe('oom');
    await expectNoLeftovers();
  });

  it('contains a fork bomb with the pid limit and leaves nothing', async () => {
    const result = await executor.execute({
      language: 'python',
      code: 'import os, time\nok = 0\nfor _ in range(64):\n    try:\n        if os.fork() == 0:\n            time.sleep(5); os._exit(0)\n        ok += 1\n    except OSError:\n        pass\nprint(ok)',
      limits: { pids: 16 },
    });
    expect(result.status).toBe('ok');
    expect(Number(result.stdout.trim())).toBeLessThan(16);
    await expectNoLeftovers();
  });

  it('network none cannot reach a host loopback listener; network open can (control)', async () => {
    await using canary = await startCanary();
    const probes = {
      node: `const s = require('net').connect(${canary.port}, '127.0.0.1').on('connect', () => { console.log('CONNECTED'); s.destroy(); }).on('error', (e) => console.log('ERR', e.code))`,
      python: `import socket\ntry:\n    socket.create_connection(("127.0.0.1", ${canary.port}), timeout=2); print("CONNECTED")\nexcept OSError as e:\n    print("ERR", e)`,
      bash: `curl -sS -m 2 http://127.0.0.1:${canary.port}/ && echo CONNECTED || echo ERR`,
    } as const;
    for (const [language, code] of Object.entries(probes) as [keyof typeof probes, string][]) {
      const blocked = await executor.execute({ language, code });
      expect(blocked.stdout, language).not.toContain('CONNECTED');
      expect(blocked.stdout, language).toContain('ERR');
    }
    expect(canary.connections).toBe(0);
    // A raw syscall path that no Node patch covers: node with the guard stripped from its env.
    const unguarded = await executor.execute({
      language: 'node',
      code: `const r = require('child_process').spawnSync(process.execPath, ['-e', "require('net').connect(${canary.port}, '127.0.0.1').on('connect', () => console.log('CONNECTED')).on('error', (e) => console.log('ERR', e.code))"], { env: {}, encoding: 'utf8' }); console.log(r.stdout)`,
    });
    expect(unguarded.stdout).toContain('ERR');
    expect(canary.connections).toBe(0);
    for (const [language, code] of Object.entries(probes) as [keyof typeof probes, string][]) {
      const control = await executor.execute({ language, code, network: 'open' });
      expect(control.stdout, language).toContain('CONNECTED');
    }
    expect(canary.connections).toBe(3);
  });

  it('isolates the process: unprivileged, no caps, no new privileges, only lo, read-only root, no host files', async () => {
    const hostMarker = join(tmpdir(), `cordon-host-marker-${process.pid}`);
    writeFileSync(hostMarker, 'host');
    try {
      const result = await executor.execute({
        language: 'bash',
        code: [
          'id -u',
          "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -s '\\t ' ' '",
          'ls /sys/class/net 2>/dev/null || cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "',
          `test -e ${hostMarker} && echo HOST_TMP_VISIBLE || echo host-tmp-hidden`,
          'test -e /root && echo ROOT_VISIBLE || echo root-hidden',
          'test -e /etc/shadow && echo SHADOW_VISIBLE || echo shadow-hidden',
          'touch /usr/x 2>/dev/null && echo USR_WRITABLE || echo usr-readonly',
          'touch /x 2>/dev/null && echo ROOT_WRITABLE || echo root-readonly',
          'ps -e -o pid= | wc -l',
        ].join('\n'),
      });
      expect(result.status).toBe('ok');
      const lines = result.stdout.trim().split('\n');
      expect(lines[0]).not.toBe('0');
      expect(lines).toContain('CapEff: 0000000000000000');
      expect(lines).toContain('NoNewPrivs: 1');
      expect(lines[3]).toBe('lo');
      expect(lines.slice(4, 9)).toEqual([
        'host-tmp-hidden',
        'root-hidden',
        'shadow-hidden',
        'usr-readonly',
        'root-readonly',
      ]);
      // bwrap's init, the runner, bash and ps (plus the subshell's pipeline).
      expect(Number(lines[9])).toBeLessThanOrEqual(6);
    } finally {
      rmSync(hostMarker, { force: true });
    }
  });

  it('denies io_uring, the keyring and friends with a seccomp filter (the same calls are not EPERM outside)', async () => {
    // Arguments that make each call fail fast without the filter (EFAULT, EINVAL), so
    // EPERM can only come from the filter; the control runs the same program on the host.
    const code = [
      'import ctypes, os, platform',
      'libc = ctypes.CDLL(None, use_errno=True)',
      "numbers = {'x86_64': {'io_uring_setup': 425, 'keyctl': 250, 'getpid': 39}, 'aarch64': {'io_uring_setup': 425, 'keyctl': 219, 'getpid': 172}}[platform.machine()]",
      'for name, nr in numbers.items():',
      '    r = libc.syscall(nr, 0, 0, 0)',
      "    print(name, 'ok' if r >= 0 else os.strerror(ctypes.get_errno()))",
      "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('Seccomp:')][0])",
    ].join('\n');
    const inside = await executor.execute({ language: 'python', code });
    expect(inside.stdout).toBe(
      'io_uring_setup Operation not permitted\nkeyctl Operation not permitted\ngetpid ok\n2\n',
    );
    const { spawnSync } = await import('node:child_process');
    const outside = spawnSync('python3', ['-c', code], { encoding: 'utf8' }).stdout;
    expect(outside).toMatch(/^io_uring_setup (?!Operation not permitted)/);
    expect(outside).toMatch(/\nkeyctl (?!Operation not permitted)/);
    expect(executor.capabilities().notes?.join(' ')).toMatch(/seccomp/);
  });

  it('offers read-only package directories to require and import', async () => {
    const packages = mkdtempSync(join(tmpdir(), 'cordon-spawn-test-packages-'));
    // The sandbox user must be able to read package directories.
    chmodSync(packages, 0o755);
    try {
      const nodeModules = join(packages, 'node_modules');
      mkdirSync(join(nodeModules, 'greeter'), { recursive: true });
      writeFileSync(
        join(nodeModules, 'greeter', 'package.json'),
        JSON.stringify({ name: 'greeter', main: 'index.js' }),
      );
      writeFileSync(join(nodeModules, 'greeter', 'index.js'), "exports.greet = (name) => 'hello ' + name;");
      const sitePackages = join(packages, 'site-packages');
      mkdirSync(sitePackages);
      writeFileSync(join(sitePackages, 'pygreeter.py'), "def greet(name):\n    return 'hi ' + name\n");
      await using withPackages = await SpawnExecutor.create({ packageDirs: [nodeModules, sitePackages].join(',') });
      const cjs = await withPackages.execute({
        language: 'node',
        code: "console.log(require('greeter').greet('cjs'))",
      });
      const esm = await withPackages.execute({
        language: 'node',
        code: "import { greet } from 'greeter';\nconsole.log(greet('esm'))",
      });
      const python = await withPackages.execute({
        language: 'python',
        code: 'import pygreeter\nprint(pygreeter.greet("py"))',
      });
      const write = await withPackages.execute({
        language: 'bash',
        code: 'touch /packages/0/greeter/x 2>/dev/null && echo WRITABLE || echo readonly',
      });
      expect([cjs.stdout, esm.stdout, python.stdout, write.stdout]).toEqual([
        'hello cjs\n',
        'hello esm\n',
        'hi py\n',
        'readonly\n',
      ]);
    } finally {
      rmSync(packages, { recursive: true, force: true });
    }
  });

  it('keeps working when another executor of the same owner closes', async () => {
    const other = await SpawnExecutor.create({});
    await other.execute({ language: 'bash', code: 'true' });
    await other.close();
    const result = await executor.execute({ language: 'bash', code: 'echo still' });
    expect(result.stdout).toBe('still\n');
    await expectNoLeftovers();
  });
});
