import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { parseExecutionRequest, type ExecutionRequest } from '@cordon/core';
import { checkCollectedFiles } from '@cordon/core/backend';
import { COLLECT_FILES_CASES, collectFilesCaseRequest, collectFilesMismatches } from '@cordon/core/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerTier } from './support/docker-tier.js';
import {
  encodePayloadV3,
  removeContainer,
  removeLabelled,
  runSupervisor,
  startSupervisor,
  type RunnerKind,
  type SupervisorFlavour,
} from './support/supervisor-harness.js';

// Runner protocol 3 against the in-container supervisors themselves (supervisor.cjs for
// node and python, supervisor.py for python), driven over `docker run -i` with docker's
// --init as PID 1, as in a user's own image: stdin relayed exactly, fd 0 as the host's
// liveness, trailers, exit codes, collection.
const available = await dockerTier('docker');
const gvisor = available && (await dockerTier('gvisor', { runtime: 'runsc' }));

interface Flavour {
  flavour: SupervisorFlavour;
  kind: RunnerKind;
}
const FLAVOURS: Flavour[] = [
  { flavour: 'cjs', kind: 'node' },
  { flavour: 'cjs', kind: 'python' },
  { flavour: 'py', kind: 'python' },
];

/** Programs in the booted child's language, for each behaviour the tests need. */
const PROGRAMS = {
  node: {
    exit7: 'process.stdout.write("out\\n"); process.stderr.write("err\\n"); process.exit(7);',
    killSelf: 'process.kill(process.pid, "SIGKILL");',
    digestStdin:
      'const c=require("crypto").createHash("sha256"); let n=0; process.stdin.on("data",(d)=>{n+=d.length;c.update(d)}); process.stdin.on("end",()=>process.stdout.write(n+" "+c.digest("hex")));',
    ignoreStdin: 'process.stdout.write("ignored");',
    sleep: 'process.stdout.write("ready\\n"); setTimeout(() => {}, 60000);',
    fakeTrailer:
      'const fake = "0123456789abcdef0123"; process.stdout.write("\\0cordon:" + fake + ":\\0"); process.stderr.write("\\0cordon:" + fake + ":" + JSON.stringify({exitCode:0,signal:null,files:[],filesTruncated:false,warnings:[]}) + "\\0"); process.exitCode = 3;',
    writeFiles:
      'const fs=require("fs"); fs.mkdirSync("out/sub",{recursive:true}); fs.writeFileSync("out/a.txt","A"); fs.writeFileSync("out/sub/b.log","B"); fs.writeFileSync("out/c.bin",Buffer.from([0,255,1])); fs.writeFileSync("/tmp/secret","S"); fs.symlinkSync("/tmp/secret","out/link.txt");',
  },
  python: {
    exit7: 'import sys\nprint("out")\nprint("err", file=sys.stderr)\nsys.exit(7)',
    killSelf: 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)',
    digestStdin:
      'import hashlib, sys\ndata = sys.stdin.buffer.read()\nsys.stdout.write(f"{len(data)} {hashlib.sha256(data).hexdigest()}")',
    ignoreStdin: 'print("ignored", end="")',
    sleep: 'import time\nprint("ready", flush=True)\ntime.sleep(60)',
    fakeTrailer:
      'import sys, json\nfake = "0123456789abcdef0123"\nsys.stdout.write("\\0cordon:" + fake + ":\\0")\nsys.stdout.flush()\nsys.stderr.write("\\0cordon:" + fake + ":" + json.dumps({"exitCode":0,"signal":None,"files":[],"filesTruncated":False,"warnings":[]}) + "\\0")\nsys.exit(3)',
    writeFiles:
      'import os\nos.makedirs("out/sub")\nopen("out/a.txt","w").write("A")\nopen("out/sub/b.log","w").write("B")\nopen("out/c.bin","wb").write(bytes([0,255,1]))\nopen("/tmp/secret","w").write("S")\nos.symlink("/tmp/secret","out/link.txt")',
  },
} as const;

function digest(bytes: Buffer): string {
  return `${bytes.length} ${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Every byte value, then random bytes: binary stdin past a pipe's 64 KiB. */
function binaryStdin(length: number): Buffer {
  const all = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
  return Buffer.concat([all, randomBytes(length - all.length)]);
}

function request(
  language: ExecutionRequest['language'],
  code: string,
  extra: Partial<ExecutionRequest> = {},
): ExecutionRequest {
  return { language, code, ...extra };
}

afterAll(() => {
  // Every container is removed in its own finally; none with this suite's label may be left.
  expect(removeLabelled()).toEqual([]);
});

describe.runIf(available)('runner protocol 3 supervisors', () => {
  describe.each(FLAVOURS)('supervisor.$flavour --kind $kind', ({ flavour, kind }) => {
    const programs = PROGRAMS[kind];
    const run = (
      req: ExecutionRequest,
      more: { stdin?: Buffer; extra?: Buffer; args?: string[]; keepStdinOpen?: boolean } = {},
    ) => runSupervisor({ flavour, kind, request: req, ...more });

    it('reports the exit code, passes the output through and exits with it', async () => {
      const result = await run(request(kind, programs.exit7));
      expect(result.trailer).toMatchObject({ exitCode: 7, signal: null, files: [], filesTruncated: false });
      expect(result.stdout.toString()).toBe('out\n');
      expect(result.stderr.toString()).toBe('err\n');
      expect(result.containerExit).toBe(7);
    });

    it('exits after its trailer without waiting for the host to end fd 0', async () => {
      const started = Date.now();
      const result = await run(request(kind, programs.exit7), { keepStdinOpen: true });
      expect(result.trailer?.exitCode).toBe(7);
      expect(result.containerExit).toBe(7);
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('reports a signal death as the signal, exiting 128+N', async () => {
      const result = await run(request(kind, programs.killSelf));
      expect(result.trailer).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
      expect(result.containerExit).toBe(137);
    });

    it.each([
      ['binary, larger than 64 KiB', binaryStdin(300 * 1024)],
      ['empty', Buffer.alloc(0)],
      ['a few bytes', Buffer.from('abc\n')],
    ])('passes stdin exactly (%s), then EOF', async (_, stdin) => {
      const result = await run(request(kind, programs.digestStdin), { stdin });
      expect(result.trailer?.exitCode).toBe(0);
      expect(result.stdout.toString()).toBe(digest(stdin));
    });

    it('never passes bytes beyond stdinBytes to the program', async () => {
      const result = await run(request(kind, programs.digestStdin), {
        stdin: Buffer.from('exact'),
        extra: Buffer.from('MORE BYTES THE PROGRAM MUST NOT SEE'),
      });
      expect(result.stdout.toString()).toBe(digest(Buffer.from('exact')));
      expect(result.containerExit).toBe(0);
    });

    it('is not blocked by a program that never reads a large stdin', async () => {
      const started = Date.now();
      const result = await run(request(kind, programs.ignoreStdin), { stdin: randomBytes(4 * 1024 * 1024) });
      expect(result.trailer).toMatchObject({ exitCode: 0, signal: null });
      expect(result.stdout.toString()).toBe('ignored');
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it('runs a bash program with its files, stdin and exit code', async () => {
      const stdin = binaryStdin(100 * 1024);
      const result = await run(
        request(
          'bash',
          'cat in/data.txt; echo; head -c 3 in/bin | od -An -tx1; sha256sum | cut -d" " -f1; echo "uid=$(id -u) groups=$(id -G)"; exit 4',
          { files: { 'in/data.txt': 'hello', 'in/bin': new Uint8Array([0, 255, 7]) } },
        ),
        { stdin },
      );
      expect(result.trailer).toMatchObject({ exitCode: 4, signal: null });
      expect(result.stdout.toString()).toBe(
        `hello\n 00 ff 07\n${createHash('sha256').update(stdin).digest('hex')}\nuid=10001 groups=10001\n`,
      );
      expect(result.containerExit).toBe(4);
    });

    it('collects files by include and exclude, never following a symbolic link', async () => {
      const result = await run(request(kind, programs.writeFiles, { collectFiles: ['out', '!**/*.log'] }));
      expect(result.trailer?.exitCode).toBe(0);
      expect(result.trailer?.files.map((file) => [file.path, Buffer.from(file.content).toString('hex')])).toEqual([
        ['out/a.txt', Buffer.from('A').toString('hex')],
        ['out/c.bin', '00ff01'],
      ]);
      expect(result.trailer?.warnings).toEqual([
        'collected file "out/link.txt" left out: a symbolic link, not a regular file (links are never followed)',
      ]);
    });

    it('writes the one real trailer after a program that printed a fake one', async () => {
      const result = await run(request(kind, programs.fakeTrailer));
      expect(result.trailer).toMatchObject({ exitCode: 3, signal: null });
      expect(result.stdout.toString()).toBe('\0cordon:0123456789abcdef0123:\0');
      expect(result.stderr.toString()).toContain('\0cordon:0123456789abcdef0123:{');
      expect(result.containerExit).toBe(3);
    });

    it.each(['booted', 'bash'] as const)(
      'kills the run and exits 125 without a trailer when fd 0 ends mid-run (%s program)',
      async (which) => {
        const container = startSupervisor({ flavour, kind });
        try {
          const nonce = randomBytes(12).toString('hex');
          const code = which === 'bash' ? 'echo ready; sleep 60' : programs.sleep;
          container.write(encodePayloadV3(request(which === 'bash' ? 'bash' : kind, code), nonce, 0));
          await until(() => container.stdout().toString().includes('ready'), 20_000);
          const ended = Date.now();
          container.endStdin();
          const exit = await container.exited;
          const tookMs = Date.now() - ended;
          expect(exit).toBe(125);
          expect(tookMs).toBeLessThan(2_500);
          expect(container.stdout().toString()).toBe('ready\n');
          expect(container.stderr().includes(`cordon:${nonce}`)).toBe(false);
        } finally {
          removeContainer(container.name);
        }
      },
    );

    it('exits 125 when fd 0 ends before any payload (an idle container whose host died)', async () => {
      const container = startSupervisor({ flavour, kind });
      try {
        await delay(1_000);
        const ended = Date.now();
        container.endStdin();
        expect(await container.exited).toBe(125);
        expect(Date.now() - ended).toBeLessThan(2_500);
        expect(container.stdout().length).toBe(0);
      } finally {
        removeContainer(container.name);
      }
    });

    it('exits 125 when fd 0 ends inside the stdin', async () => {
      const container = startSupervisor({ flavour, kind });
      try {
        const nonce = randomBytes(12).toString('hex');
        container.write(encodePayloadV3(request(kind, programs.digestStdin), nonce, 1000));
        container.write(Buffer.alloc(10));
        await delay(500);
        container.endStdin();
        expect(await container.exited).toBe(125);
        expect(container.stdout().toString()).toBe('');
      } finally {
        removeContainer(container.name);
      }
    });

    it('sets RLIMIT_NPROC on the program alone with --nproc', async () => {
      const result = await run(request('bash', 'ulimit -u; ulimit -Hu'), { args: ['--nproc', '37'] });
      expect(result.stdout.toString()).toBe('37\n37\n');
      expect(result.trailer?.exitCode).toBe(0);
    });

    it('refuses a payload of protocol 2', async () => {
      const container = startSupervisor({ flavour, kind });
      try {
        const json = Buffer.from(JSON.stringify({ v: 2, nonce: randomBytes(12).toString('hex') }));
        const length = Buffer.alloc(4);
        length.writeUInt32BE(json.length);
        container.write(Buffer.concat([length, json]));
        expect(await container.exited).toBe(125);
        expect(container.stderr().toString()).toContain('unsupported payload version 2 (this runner speaks 3)');
      } finally {
        removeContainer(container.name);
      }
    });

    it('takes the interpreter path from --python / --bash and refuses a relative one', async () => {
      const good = await run(
        request(kind === 'python' ? 'python' : 'bash', kind === 'python' ? 'print(1)' : 'echo 1'),
        {
          args: kind === 'python' ? ['--python', '/usr/bin/python3.11'] : ['--bash', '/usr/bin/bash'],
        },
      );
      expect(good.stdout.toString()).toBe('1\n');
      const bad = await run(request(kind, 'x'), { args: ['--bash', 'bin/bash'] });
      expect(bad.containerExit).toBe(125);
      expect(bad.rawStderr.toString()).toContain('--bash must be an absolute path (got "bin/bash")');
    });
  });

  describe('supervisor.cjs options', () => {
    it('takes --node and --node-path, and --node-path "" leaves NODE_PATH unset', async () => {
      const set = await runSupervisor({
        flavour: 'cjs',
        kind: 'node',
        request: request('node', 'process.stdout.write(process.version)'),
        args: ['--node', '/usr/local/bin/node'],
      });
      expect(set.trailer?.exitCode).toBe(0);
      expect(set.stdout.toString()).toMatch(/^v\d+\./);
      const unset = await runSupervisor({
        flavour: 'cjs',
        kind: 'node',
        request: request('node', 'process.stdout.write(String(require("module").globalPaths.includes("/opt/x")))'),
        args: ['--node-path', ''],
      });
      expect(unset.stdout.toString()).toBe('false');
      const withPath = await runSupervisor({
        flavour: 'cjs',
        kind: 'node',
        request: request('node', 'process.stdout.write(String(require("module").globalPaths.includes("/opt/x")))'),
        args: ['--node-path', '/opt/x'],
      });
      expect(withPath.stdout.toString()).toBe('true');
    });

    it('refuses a relative --node and a missing --prlimit', async () => {
      const bad = await runSupervisor({
        flavour: 'cjs',
        kind: 'node',
        request: request('node', ''),
        args: ['--node', 'node'],
      });
      expect(bad.containerExit).toBe(125);
      expect(bad.rawStderr.toString()).toContain('--node must be an absolute path (got "node")');
      const started = Date.now();
      const noPrlimit = await runSupervisor({
        flavour: 'cjs',
        kind: 'node',
        request: request('bash', 'echo ran'),
        args: ['--nproc', '5', '--prlimit', '/nonexistent/prlimit'],
        keepStdinOpen: true,
      });
      // On its own, with fd 0 still open: nothing holds the supervisor's exit.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(noPrlimit.containerExit).toBe(125);
      expect(noPrlimit.rawStderr.toString()).toContain('could not start /nonexistent/prlimit');
      expect(noPrlimit.stdout.toString()).toBe('');
    });
  });

  describe('supervisor.py options', () => {
    it('refuses --kind node (node has supervisor.cjs)', async () => {
      const result = await runSupervisor({ flavour: 'py', kind: 'node', request: request('node', '') });
      expect(result.containerExit).toBe(125);
      expect(result.rawStderr.toString()).toContain('--kind must be python (got node)');
    });

    it('reports a death by a real-time signal (which Node cannot name) as exit 128+N', async () => {
      const result = await runSupervisor({
        flavour: 'py',
        kind: 'python',
        request: request('bash', 'kill -s RTMIN+6 $$'),
      });
      expect(result.problem).toBeUndefined();
      expect(result.trailer).toMatchObject({ exitCode: 128 + 40, signal: null });
      expect(result.containerExit).toBe(168);
    });

    it('fails closed (125, no trailer) when the python interpreter is missing', async () => {
      const result = await runSupervisor({
        flavour: 'py',
        kind: 'python',
        request: request('python', 'print(1)'),
        args: ['--python', '/nonexistent/python3'],
      });
      expect(result.containerExit).toBe(125);
      expect(result.trailer).toBeUndefined();
      expect(result.rawStderr.toString()).toContain('could not start /nonexistent/python3');
    });
  });

  describe('supervisor.py in an image without node, prlimit or tini', () => {
    // node's directory hidden by an empty tmpfs, prlimit and tini by /dev/null: what a python-only image has.
    const hidden = [
      '--tmpfs',
      '/usr/local/bin',
      '-v',
      '/dev/null:/usr/bin/prlimit:ro',
      '-v',
      '/dev/null:/usr/bin/tini:ro',
    ];

    it('runs python and bash, with RLIMIT_NPROC set without prlimit, and collects', async () => {
      const py = await runSupervisor({
        flavour: 'py',
        kind: 'python',
        dockerArgs: hidden,
        args: ['--nproc', '23'],
        request: request('python', PROGRAMS.python.writeFiles, { collectFiles: ['out/a.txt'] }),
      });
      expect(py.trailer).toMatchObject({ exitCode: 0, files: [{ path: 'out/a.txt' }] });
      const bash = await runSupervisor({
        flavour: 'py',
        kind: 'python',
        dockerArgs: hidden,
        args: ['--nproc', '23'],
        request: request(
          'bash',
          'ulimit -u; test -x /usr/local/bin/node || echo no node; test -x /usr/bin/prlimit || echo no prlimit',
        ),
      });
      expect(bash.stdout.toString()).toBe('23\nno node\nno prlimit\n');
      expect(bash.trailer?.exitCode).toBe(0);
    });
  });

  describe.runIf(gvisor).each(FLAVOURS)('under gVisor: supervisor.$flavour --kind $kind', ({ flavour, kind }) => {
    const dockerArgs = ['--runtime', 'runsc'];

    it('relays stdin exactly, reports the exit code and collects after the sweep', async () => {
      const stdin = binaryStdin(200 * 1024);
      const result = await runSupervisor({
        flavour,
        kind,
        dockerArgs,
        stdin,
        request: request('bash', 'sha256sum | cut -d" " -f1; mkdir out; printf A > out/a.txt; (sleep 30 &); exit 5', {
          collectFiles: ['out'],
        }),
      });
      expect(result.stdout.toString()).toBe(`${createHash('sha256').update(stdin).digest('hex')}\n`);
      expect(result.trailer).toMatchObject({ exitCode: 5, files: [{ path: 'out/a.txt' }], warnings: [] });
    });

    it('exits 125 without a trailer when fd 0 ends mid-run', async () => {
      const container = startSupervisor({ flavour, kind, dockerArgs });
      try {
        const nonce = randomBytes(12).toString('hex');
        container.write(encodePayloadV3(request(kind, PROGRAMS[kind].sleep), nonce, 0));
        await until(() => container.stdout().toString().includes('ready'), 30_000);
        const ended = Date.now();
        container.endStdin();
        expect(await container.exited).toBe(125);
        expect(Date.now() - ended).toBeLessThan(3_000);
        expect(container.stderr().includes(`cordon:${nonce}`)).toBe(false);
      } finally {
        removeContainer(container.name);
      }
    });
  });

  // Core's collectFiles cases through each supervisor's collection (bash programs, uid 10001).
  describe.each([
    { flavour: 'cjs', kind: 'node' },
    { flavour: 'py', kind: 'python' },
  ] as const)('core collectFiles cases through supervisor.$flavour', ({ flavour, kind }) => {
    it.each(COLLECT_FILES_CASES.map((row) => [row.name, row] as const))('%s', async (_, row) => {
      const result = await runSupervisor({ flavour, kind, request: collectFilesCaseRequest(row) });
      expect(result.problem).toBeUndefined();
      const trailer = result.trailer!;
      expect(trailer.exitCode).toBe(0);
      // As the host does: every returned path re-checked against the request.
      const normalized = parseExecutionRequest(collectFilesCaseRequest(row));
      const checked = checkCollectedFiles(trailer.files, normalized.collectFiles, normalized.limits.diskBytes);
      const mismatches = collectFilesMismatches(row, {
        status: 'ok',
        exitCode: 0,
        stderr: '',
        files: checked.files,
        filesTruncated: trailer.filesTruncated || checked.truncated,
        warnings: [...trailer.warnings, ...checked.warnings],
      });
      expect(mismatches).toEqual([]);
    });
  });
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await delay(20);
  }
}
