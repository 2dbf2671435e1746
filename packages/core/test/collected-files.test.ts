import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkCollectedFiles,
  collectMatcher,
  CollectionCaps,
  CollectWarnings,
  MAX_COLLECT_WARNINGS,
  MAX_COLLECTED_FILES,
  MAX_COLLECTED_PATH_BYTES,
} from '../src/backend/collected-files.js';
import { COLLECT_FILES_CASES, collectFilesMismatches } from '../src/conformance/collect-files-cases.js';
import { UidLeases } from '../src/backend/uid-lease.js';
import { ScriptedExecutor, exited } from './support/scripted-executor.js';

const file = (path: string, content = 'x') => ({ path, content: Buffer.from(content) });

describe('collectMatcher', () => {
  it.each([
    [['out.txt'], 'out.txt', true],
    [['out'], 'out/a/b.txt', true],
    [['*.txt'], 'a.txt', true],
    [['*.txt'], 'd/a.txt', false],
    [['**/*.txt'], 'd/e/a.txt', true],
    [['**'], '.hidden', true],
    [['out', '!out/skip.txt'], 'out/skip.txt', false],
    [['a.txt'], 'b.txt', false],
  ])('%j selects %s: %s', (patterns, path, expected) => {
    expect(collectMatcher(patterns)(path)).toBe(expected);
  });
});

describe('checkCollectedFiles (the host-side check every backend passes through)', () => {
  it.each([
    ['../../etc/evil', /"\.\.\/\.\.\/etc\/evil" dropped: its path must not contain "\.\."/],
    ['/etc/evil', /dropped: its path must be relative/],
    ['a//b', /empty segments/],
    ['./a', /not in normal form/],
    ['evil', /no collectFiles pattern selects it/],
  ])('drops %s and says why', (path, warning) => {
    const checked = checkCollectedFiles(
      [file(path), file('out/ok.txt')],
      ['out', '*', '**/*'].slice(0, path === 'evil' ? 1 : 3),
      1 << 20,
    );
    expect(checked.files.map((f) => f.path)).toEqual(['out/ok.txt']);
    expect(checked.warnings.join('\n')).toMatch(warning);
  });

  it('drops duplicates, and everything when nothing was asked for', () => {
    expect(checkCollectedFiles([file('a'), file('a')], ['a'], 1 << 20).files).toHaveLength(1);
    const none = checkCollectedFiles([file('a')], [], 1 << 20);
    expect(none.files).toEqual([]);
    expect(none.warnings[0]).toMatch(/none were asked for/);
  });

  it('caps the count and the bytes, flags truncation and names what was left out', () => {
    const many = Array.from({ length: MAX_COLLECTED_FILES + 5 }, (_, index) =>
      file(`f${String(index).padStart(5, '0')}`),
    );
    const checked = checkCollectedFiles(many, ['**'], 1 << 20);
    expect(checked.files).toHaveLength(MAX_COLLECTED_FILES);
    expect(checked.truncated).toBe(true);
    expect(checked.warnings.join('\n')).toMatch(/more than 1000 files/);
    const big = checkCollectedFiles([file('a', 'x'.repeat(600)), file('b', 'x'.repeat(600))], ['**'], 1000);
    expect(big.files.map((f) => f.path)).toEqual(['a']);
    expect(big.truncated).toBe(true);
    expect(big.warnings.join('\n')).toMatch(/"b" left out: 600 bytes would pass the 1000-byte cap/);
  });

  it("applies to whatever a backend returns, with the backend's own warnings bounded", async () => {
    await using executor = new ScriptedExecutor(() =>
      Promise.resolve({
        ...exited(0),
        files: [file('out.txt'), file('../../etc/evil'), file('/abs')],
        warnings: Array.from({ length: 30 }, (_, index) => `w${index}`),
      }),
    );
    const result = await executor.execute({ language: 'node', code: '', collectFiles: ['out.txt'] });
    expect(result.files.map((f) => f.path)).toEqual(['out.txt']);
    expect(result.warnings.filter((w) => /^w\d+$/.test(w))).toHaveLength(20);
    expect(result.warnings.join('\n')).toMatch(/10 more warnings from the backend/);
    expect(result.warnings.join('\n')).toMatch(/"\.\.\/\.\.\/etc\/evil" dropped/);
    expect(result.warnings.join('\n')).toMatch(/"\/abs" dropped/);
  });
});

describe('CollectionCaps and CollectWarnings (one behaviour: spawn, the image and the host check apply them)', () => {
  it('caps the count, min(diskBytes, MAX_FILES_BYTES) bytes and the JSON-encoded path bytes; a later smaller file may fit', () => {
    const caps = new CollectionCaps(1024 * 1024);
    expect(caps.admit('a', 700_000)).toBeUndefined();
    expect(caps.admit('b', 700_000)).toBe('700000 bytes would pass the 1048576-byte cap');
    expect(caps.admit('c', 10)).toBeUndefined();
    const long = 'd/'.repeat(2000);
    const paths = new CollectionCaps(1 << 30);
    let admitted = 0;
    while (paths.admit(`${long}${admitted}`, 0) === undefined) admitted++;
    expect(admitted).toBe(Math.floor(MAX_COLLECTED_PATH_BYTES / Buffer.byteLength(JSON.stringify(`${long}0`))));
    expect(paths.admit(`${long}x`, 0)).toBe(`the paths would pass ${MAX_COLLECTED_PATH_BYTES} bytes`);
    const count = new CollectionCaps(1 << 30);
    for (let index = 0; index < MAX_COLLECTED_FILES; index++) expect(count.admit(`f${index}`, 0)).toBeUndefined();
    expect(count.admit('last', 0)).toBe(`more than ${MAX_COLLECTED_FILES} files`);
  });

  it('the host check applies the path-bytes cap too', () => {
    const long = 'p'.repeat(200);
    const files = Array.from({ length: MAX_COLLECTED_FILES }, (_, index) =>
      file(`${Array.from({ length: 10 }, () => long).join('/')}/${String(index).padStart(4, '0')}`),
    );
    const checked = checkCollectedFiles(files, ['**'], 1 << 30);
    expect(checked.truncated).toBe(true);
    expect(checked.files.length).toBeLessThan(MAX_COLLECTED_FILES);
    expect(checked.warnings[0]).toMatch(/left out: the paths would pass 1048576 bytes/);
  });

  it('keeps the first warnings and counts the rest in one line', () => {
    const warnings = new CollectWarnings();
    for (let index = 0; index < MAX_COLLECT_WARNINGS + 3; index++) warnings.add(`w${index}`);
    expect(warnings.list()).toHaveLength(MAX_COLLECT_WARNINGS + 1);
    expect(warnings.list().at(-1)).toBe('collected files: 3 more left out (not listed)');
  });
});

describe('COLLECT_FILES_CASES (the table every backend runs)', () => {
  const result = (files: [string, string][], truncated = false, warnings: string[] = []) => ({
    status: 'ok' as const,
    exitCode: 0,
    stderr: '',
    files: files.map(([path, content]) => file(path, content)),
    filesTruncated: truncated,
    warnings,
  });

  it('lists every case in path order and holds on its own expectation', () => {
    for (const row of COLLECT_FILES_CASES) {
      const paths = row.files.map(([path]) => path);
      expect(paths, row.name).toEqual([...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      const warnings = row.warnings.map((text) => `collected file ${text}`);
      expect(
        collectFilesMismatches(row, result([...row.files] as [string, string][], row.truncated, warnings)),
      ).toEqual([]);
    }
  });

  it('names every difference: files, content, order, the flag, warnings missing or unexpected', () => {
    const row = COLLECT_FILES_CASES.find((candidate) => candidate.name.startsWith('links to a file'))!;
    const mismatches = collectFilesMismatches(
      row,
      result(
        [
          ['t/real.txt', 'other'],
          ['t/abs', ''],
        ],
        true,
        ['collected file "t/x" left out: something else'],
      ),
    );
    expect(mismatches).toEqual([
      'missing 1 files: ["t/dir/f.txt"]',
      'unexpected 1 files: ["t/abs"]',
      'other content in ["t/real.txt"]',
      'filesTruncated is true, expected false',
      'no warning contains "t/abs" left out: a symbolic link, not a regular file',
      'no warning contains "t/link.txt" left out: a symbolic link, not a regular file',
      'no warning contains "t/linkdir" left out: a symbolic link, not a regular file',
      'unexpected warning: collected file "t/x" left out: something else',
    ]);
  });
});

describe('UidLeases', () => {
  it("hands out distinct uids in range, takes over a dead owner's lease, and releases", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cordon-uid-test-'));
    try {
      const leases = new UidLeases({ dir, range: { first: 5000, count: 3 } });
      const a = await leases.acquire();
      const b = await leases.acquire();
      const c = await leases.acquire();
      expect(new Set([a.uid, b.uid, c.uid])).toEqual(new Set([5000, 5001, 5002]));
      await expect(leases.acquire()).rejects.toThrow(/no free sandbox uid/);
      // Another process on this host that holds a lease keeps it; a dead one loses it.
      const other = new UidLeases({ dir, range: { first: 5000, count: 3 } });
      await expect(other.acquire()).rejects.toThrow(/no free sandbox uid/);
      await writeFile(join(dir, String(a.uid)), `999999999 ${(await import('node:os')).hostname()}\n`);
      expect((await other.acquire()).uid).toBe(a.uid);
      await b.release();
      await c[Symbol.asyncDispose]();
      expect((await readdir(dir)).sort()).toEqual([String(a.uid)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
