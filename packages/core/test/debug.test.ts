import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeDebugError, formatDebugLine, ignored, MAX_DEBUG_ERROR_CHARS } from '../src/backend/debug.js';

const built = fileURLToPath(new URL('../dist/backend/index.js', import.meta.url));

/** Runs a snippet against the built `@cordon/core/backend` in a child with the given NODE_DEBUG. */
function stderrOf(nodeDebug: string | undefined, code: string): string {
  const env = { ...process.env };
  delete env.NODE_DEBUG;
  if (nodeDebug !== undefined) env.NODE_DEBUG = nodeDebug;
  const child = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import(${JSON.stringify(built)});\n${code}`],
    {
      env,
      encoding: 'utf8',
    },
  );
  expect(child.status).toBe(0);
  return child.stderr;
}

describe('the debug channel', () => {
  it('reduces an error to its class (or errno code) and message, on one bounded line', () => {
    expect(describeDebugError(new TypeError('bad thing'))).toBe('TypeError: bad thing');
    const errno = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), { code: 'ENOENT' });
    expect(describeDebugError(errno)).toBe("ENOENT: no such file or directory, open '/x'");
    expect(describeDebugError(Object.assign(new Error('gone'), { code: 'ESRCH' }))).toBe('ESRCH: gone');
    expect(describeDebugError(new Error('two\n  lines\tand stack'))).toBe('Error: two lines and stack');
    const long = describeDebugError(new Error('x'.repeat(5000)));
    expect(long.length).toBe(MAX_DEBUG_ERROR_CHARS);
    expect(long.endsWith('…')).toBe(true);
    expect(describeDebugError('text')).toBe('text');
    expect(describeDebugError(42)).toBe('number');
  });

  it("never prints a SyntaxError's message (JSON.parse quotes its input) nor an error's context", () => {
    let parseError: unknown;
    try {
      JSON.parse('{"token": "s3cr3t-value"');
    } catch (error) {
      parseError = error;
    }
    expect(describeDebugError(parseError)).toBe('SyntaxError');
    const withContext = Object.assign(new Error('failed'), { context: { env: { TOKEN: 's3cr3t-value' } } });
    expect(formatDebugLine('a.b', 'c', withContext)).not.toContain('s3cr3t');
  });

  it('formats [area] message[: error] and calls a message closure', () => {
    expect(formatDebugLine('docker.reaper', () => 'remove container abc', new Error('no such container'))).toBe(
      '[docker.reaper] remove container abc: Error: no such container',
    );
    expect(formatDebugLine('spawn.pool', 'refill')).toBe('[spawn.pool] refill');
  });

  it('ignored() returns its fallback (undefined by default) and does not rethrow', async () => {
    await expect(Promise.reject(new Error('x')).catch(ignored('t.t', 'probe'))).resolves.toBeUndefined();
    await expect(Promise.reject(new Error('x')).catch(ignored('t.t', 'probe', ''))).resolves.toBe('');
  });

  it('writes CORDON <pid>: lines to stderr only when NODE_DEBUG names cordon, and builds nothing otherwise', () => {
    const code = `
m.debug('t.area', 'plain');
m.ignored('t.area', () => 'lazy ' + 'id-1')(new RangeError('out'));
m.debug('t.area', () => { process.stderr.write('BUILT\\n'); return 'x'; });
`;
    const on = stderrOf('cordon', code);
    expect(on).toMatch(/^CORDON \d+: \[t\.area\] plain$/m);
    expect(on).toMatch(/^CORDON \d+: \[t\.area\] lazy id-1: RangeError: out$/m);
    expect(on).toContain('BUILT');
    expect(stderrOf('http,CORDON', code)).toContain('[t.area] plain');
    const off = stderrOf(undefined, code);
    expect(off).toBe('');
    expect(stderrOf('net', code)).toBe('');
  });

  it("logs a warm pool's refills, failures with their backoff, and discards under its area", () => {
    const code = `
      let fail = true;
      const pool = new m.WarmPool({
        area: 'test.pool', size: 1, keys: ['node'], keyFor: () => 'node',
        backoff: { initialMs: 10, maxMs: 10 },
        start: () => (fail ? Promise.reject(new Error('daemon down')) : Promise.resolve({ id: 'm1' })),
        discard: () => {},
      });
      pool.fill();
      await pool.settled();
      fail = false;
      await new Promise((resolve) => setTimeout(resolve, 50));
      await pool.settled();
      await pool.close();`;
    const lines = stderrOf('cordon', code)
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/^CORDON \d+: /, ''));
    expect(lines).toEqual([
      '[test.pool] refill node: starting 1 of 1',
      '[test.pool] refill node failed, retrying in 10 ms: Error: daemon down',
      '[test.pool] refill node: starting 1 of 1',
      '[test.pool] discard m1 (on close)',
    ]);
  });
});
