import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { PY_SYSCALL } from './helpers.js';

// The program runs as the same uid as the sandbox's runner, which holds the control
// socket: nothing the program does may reach the runner, so the status it reports is
// the program's own (issue 10, hole 2), and RLIMIT_NOFILE is the sandbox's (hole 5).
let executor: SpawnExecutor;
let pooled: SpawnExecutor;

beforeAll(async () => {
  [executor, pooled] = await Promise.all([SpawnExecutor.create({}), SpawnExecutor.create({ poolSize: 1 })]);
});
afterAll(async () => {
  await Promise.all([executor?.close(), pooled?.close()]);
});

/** Takes the runner's runner socket with pidfd_getfd and writes forged status lines and records on it, then exits 7. */
const FORGE_STATUS = [
  PY_SYSCALL,
  'pidfd = sys_call(PIDFD_OPEN, RUNNER_PID, 0)',
  'fd = sys_call(PIDFD_GETFD, pidfd, 3, 0) if pidfd >= 0 else pidfd',
  "print('got the socket' if fd >= 0 else 'denied: ' + os.strerror(-fd))",
  'if fd >= 0:',
  "    for forged in (b'S 0\\n', b'S\\x00\\x00\\x00\\x010'):",
  '        try: os.write(fd, forged)',
  '        except OSError: pass',
  'sys.exit(7)',
].join('\n');

describe('the runner cannot be reached from the program (kernel isolation)', () => {
  it('pidfd_getfd of the runner socket is denied, so a forged status line cannot turn exit 7 into ok', async () => {
    const result = await executor.execute({
      language: 'python',
      code: FORGE_STATUS.replace('RUNNER_PID', '1'),
      collectFiles: ['*'],
    });
    expect(result.stdout).toBe('denied: Operation not permitted\n');
    expect([result.status, result.exitCode, result.signal]).toEqual(['error', 7, null]);
  });

  it('the runner is not dumpable: /proc/1/mem, /proc/1/environ and /proc/1/fd cannot be opened, ptrace and process_vm_readv fail', async () => {
    const code = [
      PY_SYSCALL,
      'def attempt(name, fn):',
      '    try:',
      '        fn(); print(name, "OPEN")',
      '    except OSError as e:',
      '        print(name, "denied")',
      "attempt('mem', lambda: open('/proc/1/mem', 'r+b', buffering=0))",
      "attempt('environ', lambda: open('/proc/1/environ', 'rb').read())",
      "attempt('fd', lambda: os.listdir('/proc/1/fd'))",
      // PTRACE_ATTACH = 16; process_vm_readv is 310 on x86_64, 270 on arm64.
      "r = sys_call(101 if os.uname().machine == 'x86_64' else 117, 16, 1, 0, 0)",
      "print('ptrace', 'ok' if r >= 0 else os.strerror(-r))",
      'buf = ctypes.create_string_buffer(8)',
      'class Iov(ctypes.Structure): _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]',
      'iov = Iov(ctypes.addressof(buf), 8)',
      "r = libc.syscall(310 if os.uname().machine == 'x86_64' else 270, 1, ctypes.byref(iov), 1, ctypes.byref(iov), 1, 0)",
      "print('process_vm_readv', 'ok' if r >= 0 else os.strerror(ctypes.get_errno()))",
    ].join('\n');
    const result = await executor.execute({ language: 'python', code });
    expect(result.stdout).toBe(
      'mem denied\nenviron denied\nfd denied\nptrace Operation not permitted\nprocess_vm_readv Operation not permitted\n',
    );
  });

  it('denies ptrace, process_vm_readv/writev, pidfd_getfd, kcmp and io_setup with seccomp (the same calls are not EPERM outside)', async () => {
    // Arguments that make each call fail fast without the filter (ESRCH, EINVAL, EBADF),
    // so EPERM can only come from the filter; the control runs the same program on the host.
    const code = [
      PY_SYSCALL,
      "x86 = os.uname().machine == 'x86_64'",
      'me = os.getpid()',
      'calls = [',
      "    ('ptrace', 101 if x86 else 117, (2, me, 0, 0)),",
      "    ('process_vm_readv', 310 if x86 else 270, (me, 0, 1, 0, 1, 1)),",
      "    ('process_vm_writev', 311 if x86 else 271, (me, 0, 1, 0, 1, 1)),",
      "    ('pidfd_getfd', PIDFD_GETFD, (-1, 0, 0)),",
      "    ('kcmp', 312 if x86 else 272, (me, me, 99, 0, 0)),",
      "    ('io_setup', 206 if x86 else 0, (0, 0)),",
      ']',
      'for name, nr, args in calls:',
      '    r = sys_call(nr, *args)',
      "    print(name, 'ok' if r >= 0 else os.strerror(-r))",
    ].join('\n');
    const inside = await executor.execute({ language: 'python', code });
    expect(inside.stdout).toBe(
      ['ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'kcmp', 'io_setup']
        .map((name) => `${name} Operation not permitted\n`)
        .join(''),
    );
    const outside = spawnSync('python3', ['-c', code], { encoding: 'utf8' }).stdout;
    expect(outside.split('\n').filter(Boolean)).toHaveLength(6);
    expect(outside).not.toContain('Operation not permitted');
  });

  it('RLIMIT_NOFILE is 1024 (soft and hard) in every runtime, cold and pre-booted', async () => {
    const bash = await executor.execute({ language: 'bash', code: 'echo $(ulimit -Sn) $(ulimit -Hn)' });
    const python = await executor.execute({
      language: 'python',
      code: 'import resource\nprint(*resource.getrlimit(resource.RLIMIT_NOFILE))',
    });
    const nodeLimits =
      "console.log(require('fs').readFileSync('/proc/self/limits', 'utf8').match(/Max open files\\s+(\\d+)\\s+(\\d+)/).slice(1).join(' '))";
    const node = await executor.execute({ language: 'node', code: nodeLimits });
    await pooled.settled();
    const preBooted = await pooled.execute({ language: 'node', code: nodeLimits });
    expect([bash.stdout, python.stdout, node.stdout, preBooted.stdout]).toEqual(Array(4).fill('1024 1024\n'));
  });

  it('the pre-booted Node (pool) cannot reach the runner either', async () => {
    await pooled.settled();
    const code = `
      const { execFileSync } = require('child_process');
      try { require('fs').openSync('/proc/1/mem', 'r+'); console.log('mem OPEN'); } catch { console.log('mem denied'); }
      process.exitCode = 7;`;
    const result = await pooled.execute({ language: 'node', code });
    expect(result.stdout).toBe('mem denied\n');
    expect(result.exitCode).toBe(7);
  });
});

describe('the runner cannot be reached from the program (advisory isolation)', () => {
  it('pidfd_getfd of the parent runner socket is denied (not dumpable; no seccomp there)', async () => {
    await using advisory = await SpawnExecutor.create({ isolation: 'advisory' });
    const result = await advisory.execute({
      language: 'python',
      code: FORGE_STATUS.replace('RUNNER_PID', 'os.getppid()'),
      acceptUnenforced: ['network'],
    });
    expect(result.stdout).toBe('denied: Operation not permitted\n');
    expect([result.status, result.exitCode]).toEqual(['error', 7]);
  });
});
