import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/third-party-backend.mjs', import.meta.url));
const egressFixture = fileURLToPath(new URL('./fixtures/egress-audit-backend.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cordon-cli-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function program(name: string, code: string): string {
  const path = join(dir, name);
  writeFileSync(path, code);
  return path;
}

// The fixture enforces no limits (it runs on the host), so tests waive them explicitly.
const WAIVE_LIMITS = ['--accept-unenforced', 'memoryBytes,cpus,pids,diskBytes'];

function cordon(...args: string[]) {
  return cordonWithInput(undefined, ...args);
}

function cordonWithInput(input: string | undefined, ...args: string[]) {
  const result = spawnSync(
    process.execPath,
    [cli, ...(args[0] === 'run' ? ['run', ...WAIVE_LIMITS, ...args.slice(1)] : args)],
    { encoding: 'utf8', timeout: 30_000, ...(input !== undefined ? { input } : {}) },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('cordon run', () => {
  it('streams output and exits with the program exit code', () => {
    const run = cordon(
      'run',
      '--backend',
      fixture,
      '--network',
      'open',
      program('three.js', 'console.log("hi"); console.error("warn"); process.exit(3)'),
    );
    expect(run).toMatchObject({ code: 3, stdout: 'hi\n' });
    expect(run.stderr).toContain('warn');
  });

  it('infers the language from the extension and passes --env', () => {
    const run = cordon(
      'run',
      '--backend',
      fixture,
      '--network',
      'open',
      '--env',
      'GREETING=hello',
      program('env.py', 'import os; print(os.environ["GREETING"])'),
    );
    expect(run).toMatchObject({ code: 0, stdout: 'hello\n' });
  });

  it('prints exactly one JSON result with --json and exits 0', () => {
    const run = cordon(
      'run',
      '--backend',
      fixture,
      '--network',
      'open',
      '--json',
      program('json.js', 'console.log(1); process.exit(5)'),
    );
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { status: string; exitCode: number; stdout: string; id: string };
    expect(result).toMatchObject({ status: 'error', exitCode: 5, stdout: '1\n' });
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('passes --stdin (a file, or - for its own standard input) to the program', () => {
    const echo = program('echo.js', 'process.stdin.pipe(process.stdout)');
    expect(
      cordonWithInput('from the pipe', 'run', '--backend', fixture, '--network', 'open', '--stdin', '-', echo),
    ).toMatchObject({ code: 0, stdout: 'from the pipe' });
    expect(
      cordon('run', '--backend', fixture, '--network', 'open', '--stdin', program('input.txt', 'from a file'), echo),
    ).toMatchObject({ code: 0, stdout: 'from a file' });
    // Without --stdin the program's standard input is empty, whatever this command's is.
    expect(cordonWithInput('ignored', 'run', '--backend', fixture, '--network', 'open', echo)).toMatchObject({
      code: 0,
      stdout: '',
    });
    const both = cordonWithInput('x', 'run', '--backend', fixture, '--stdin', '-', '-');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/both want standard input/);
  });

  describe('on a terminal', () => {
    // OSC 52 (clipboard), a window title, a screen clear, a C1 CSI and a bidi override.
    const hostile = program(
      'hostile.js',
      String.raw`process.stdout.write('a\x1b]52;c;ZXZpbA==\x07b\x1b]0;pwned\x07c\x1b[2J\u009b31md\u202ee\n')`,
    );
    const inTerminal = (...args: string[]) => {
      // script(1) (util-linux/bsdutils, in every base system) gives the command a pseudo-terminal, as a user's shell would.
      const command = [
        process.execPath,
        cli,
        'run',
        ...WAIVE_LIMITS,
        '--backend',
        fixture,
        '--network',
        'open',
        ...args,
        hostile,
      ]
        .map((arg) => `'${arg}'`)
        .join(' ');
      return spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 30_000 }).stdout;
    };

    it('shows control characters and escape sequences escaped', () => {
      const shown = inTerminal();
      expect(shown).not.toMatch(/[\x1b\x07\u009b\u202e]/);
      expect(shown).toContain(String.raw`a\x1b]52;c;ZXZpbA==\x07b\x1b]0;pwned\x07c\x1b[2J\x9b31md\u202ee`);
    });

    it('passes them raw with --raw-output', () => {
      expect(inTerminal('--raw-output')).toContain('a\x1b]52;c;ZXZpbA==\x07b');
    });

    it("leaves a pipe untouched (the program's bytes as written)", () => {
      const run = cordon('run', '--backend', fixture, '--network', 'open', hostile);
      expect(run.stdout).toContain('a\x1b]52;c;ZXZpbA==\x07b\x1b]0;pwned\x07c\x1b[2J\u009b31md\u202ee\n');
    });
  });

  it('exits 124 on timeout', () => {
    const run = cordon(
      'run',
      '--backend',
      fixture,
      '--network',
      'open',
      '--timeout',
      '300',
      program('loop.js', 'for (;;) {}'),
    );
    expect(run.code).toBe(124);
    expect(run.stderr).toMatch(/timed out/);
  });

  it('exits 128+n when the program dies of signal n', () => {
    const run = cordon(
      'run',
      '--backend',
      fixture,
      '--network',
      'open',
      '--language',
      'bash',
      program('kill.txt', 'kill -TERM $$'),
    );
    expect(run.code).toBe(143);
  });

  it('names the bad field of an invalid request and exits 2', () => {
    const run = cordon('run', '--backend', fixture, '--timeout', '-5', program('ok.js', ''));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('invalid timeoutMs');
  });

  it('refuses advisory isolation for network none (fail closed) and exits 3', () => {
    const run = cordon('run', '--backend', fixture, program('ok2.js', 'console.log(1)'));
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/refused to run/);
    expect(run.stdout).toBe('');
  });

  it('refuses --allow beside --network open before any backend starts, and exits 2', () => {
    const run = cordon(
      'run',
      '--backend',
      'nope-not-a-backend',
      '--network',
      'open',
      '--allow',
      'api.stripe.com',
      program('allow-open.js', ''),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('invalid --network: cannot be combined with --allow');
    const json = cordon(
      'run',
      '--backend',
      'nope-not-a-backend',
      '--json',
      '--resolve',
      'a.example.com=127.0.0.1',
      program('resolve-alone.js', ''),
    );
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { name: 'InvalidRequestError', context: { field: '--resolve' } },
    });
  });

  it("prints the result's egress audit as a table on stderr, and in full with --json", () => {
    const record = {
      at: '2026-12-03T10:00:00.000Z',
      path: 'captured',
      host: 'evil.example',
      port: 443,
      verdict: 'denied',
      reason: 'evil.example is not on the allow-list',
      bytesUp: 0,
      bytesDown: 0,
      durationMs: 2,
    };
    const audit = JSON.stringify({ records: [record], dropped: 4 });
    const args = ['--backend', egressFixture, '--network', 'open', '--env', `EGRESS_AUDIT=${audit}`];
    const human = cordon('run', ...args, program('audit.js', ''));
    expect(human).toMatchObject({ code: 0, stdout: 'ran\n' });
    expect(human.stderr).toContain('cordon: egress: 1 attempt recorded, 0 allowed, 1 denied');
    expect(human.stderr).toMatch(/denied +captured +evil\.example:443 .*evil\.example is not on the allow-list/);
    expect(human.stderr).toContain('4 dropped');
    const json = cordon('run', ...args, '--json', program('audit-json.js', ''));
    expect(JSON.parse(json.stdout)).toMatchObject({ egress: { records: [record], dropped: 4 } });
    expect(json.stderr).toBe('');
  });

  it('documents --allow, --audit-limit and the test-only --resolve in --help', () => {
    const help = cordon('run', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--allow <rule>/);
    expect(help.stdout).toMatch(/--resolve <NAME=ADDR\[:PORT\]>\s+TEST ONLY/);
    expect(help.stdout).toMatch(/--audit-limit <n>/);
  });

  it('names the package to install for an unknown backend', () => {
    const run = cordon('run', '--backend', 'nope-not-a-backend', '--json', program('ok3.js', ''));
    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout)).toMatchObject({
      error: { name: 'BackendUnavailableError', code: 'BACKEND_UNAVAILABLE' },
    });
  });
});
