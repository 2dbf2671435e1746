import { createRequire } from 'node:module';
import { parseExecutionRequest } from '@cordon/core';
import { collectMatcher } from '@cordon/core/backend';
import {
  collectionBounds,
  collectPatternForms,
  decodeTrailer,
  maxTrailerBodyBytes,
  RunnerOutput,
  TrailerScanner,
  type CollectionBounds,
} from '@cordon/core/backend';
import { describe, expect, it } from 'vitest';
import { encodePayload } from '@cordon/core/backend';

const MiB = 1024 * 1024;
const bounds: CollectionBounds = {
  maxBytes: 1000,
  maxFiles: 3,
  maxDepth: 64,
  maxPathBytes: 1000,
  maxEntries: 100_000,
  maxListingBytes: 8 * MiB,
};
const body = (value: unknown) => Buffer.from(JSON.stringify(value));
const honest = {
  exitCode: 3,
  signal: null,
  files: [['a', Buffer.from('x').toString('base64')]],
  filesTruncated: false,
  warnings: [],
};

/** The in-image supervisor's matcher, the code that really runs in the container. */
const inImageCollect = createRequire(import.meta.url)('../../../images/runtime/runner/collect.cjs') as {
  compileMatcher: (patterns: ReturnType<typeof collectPatternForms>) => (path: string) => boolean;
};

describe('runner protocol 3', () => {
  it('encodes a length-prefixed JSON payload with the collection patterns and bounds', () => {
    const request = parseExecutionRequest({
      language: 'python',
      code: 'print(1)',
      env: { A: 'b' },
      files: { 'd/x.txt': 'hi' },
      collectFiles: ['*.txt'],
      limits: { diskBytes: 8 * MiB },
    });
    const payload = encodePayload(request, 'n0nce');
    const length = payload.readUInt32BE(0);
    expect(length).toBe(payload.byteLength - 4);
    expect(JSON.parse(payload.subarray(4).toString('utf8'))).toEqual({
      v: 3,
      nonce: 'n0nce',
      language: 'python',
      code: 'print(1)',
      env: { A: 'b' },
      files: [['d/x.txt', Buffer.from('hi').toString('base64')]],
      collect: collectPatternForms(['*.txt']),
      bounds: {
        maxBytes: 8 * MiB,
        maxFiles: 1000,
        maxDepth: 64,
        maxPathBytes: MiB,
        maxEntries: 100_000,
        maxListingBytes: 8 * MiB,
      },
      stdinBytes: 0,
    });
  });

  it('selects in the supervisor exactly what core selects on the host', () => {
    const patterns = ['out/**/*.txt', 'top.txt', 'dir', '!dir/skip*', '*.{json,csv}', 'a[1].txt', '.hidden', 'deep/**'];
    const inImage = inImageCollect.compileMatcher(collectPatternForms(patterns));
    const onHost = collectMatcher(patterns);
    const paths = [
      'out/a.txt',
      'out/x/y/z.txt',
      'out/a.bin',
      'top.txt',
      'x/top.txt',
      'dir/f',
      'dir/sub/g',
      'dir/skip.me',
      'dirx',
      'r.json',
      'r.csv',
      'sub/r.json',
      'a[1].txt',
      'a1.txt',
      '.hidden',
      '.hidden/in',
      'deep/.dot/f',
      'deep',
      'new\nline',
      'ü.txt',
    ];
    for (const path of paths) expect([path, inImage(path)]).toEqual([path, onHost(path)]);
  });

  it('strips the trailer from a stream split at every byte, and decodes its body', () => {
    const stream = Buffer.concat([Buffer.from('out\0put\0cordon:abc:'), body(honest), Buffer.from('\0ignored')]);
    const seen: Buffer[] = [];
    const scanner = new TrailerScanner({
      nonce: 'abc',
      maxBodyBytes: maxTrailerBodyBytes(bounds),
      emit: (chunk) => seen.push(Buffer.from(chunk)),
    });
    for (let i = 0; i < stream.byteLength; i++) scanner.push(stream.subarray(i, i + 1));
    expect(scanner.done).toBe(true);
    expect(Buffer.concat(seen).toString()).toBe('out\0put');
    const decoded = decodeTrailer(scanner.body!, bounds);
    expect(decoded).toMatchObject({
      ok: true,
      trailer: { exitCode: 3, signal: null, filesTruncated: false, warnings: [] },
    });
    expect(decoded.ok && Buffer.from(decoded.trailer.files[0]!.content).toString()).toBe('x');
  });

  it('passes a trailer with another nonce through as output (a program cannot forge one)', () => {
    const seen: Buffer[] = [];
    const scanner = new TrailerScanner({
      nonce: 'real',
      maxBodyBytes: 100,
      emit: (chunk) => seen.push(Buffer.from(chunk)),
    });
    scanner.push(Buffer.from('\0cordon:fake:\0'));
    scanner.end();
    expect(scanner.done).toBe(false);
    expect(Buffer.concat(seen).toString()).toBe('\0cordon:fake:\0');
  });

  it('stops buffering a body past its bound and says so', () => {
    const scanner = new TrailerScanner({ nonce: 'n', maxBodyBytes: 10, emit: () => undefined });
    scanner.push(Buffer.from('\0cordon:n:0123456789'));
    expect(scanner.overflowed).toBe(false);
    scanner.push(Buffer.from('X'));
    expect(scanner.overflowed).toBe(true);
    scanner.push(Buffer.alloc(MiB, 'x'));
    expect(scanner.done).toBe(false);
    expect(scanner.body).toBeUndefined();
  });

  it('bounds both streams: the stdout trailer has no body, the stderr one the collection bound plus a small allowance', () => {
    const forStdout = new RunnerOutput({ nonce: 'n', bounds, stdout: () => undefined, stderr: () => undefined });
    expect(forStdout.push('stdout', Buffer.from('\0cordon:n:x'))).toBe('overflow');
    expect(forStdout.overflowProblem).toMatch(/stdout trailer carries a body/);

    const budget = collectionBounds(parseExecutionRequest({ language: 'node', code: '' }));
    const max = maxTrailerBodyBytes(budget);
    // base64 of 32 MiB is 42.7 MiB; paths, per-file JSON and warnings add under 1.3 MiB.
    expect(max).toBeGreaterThan(Math.ceil(budget.maxBytes / 3) * 4);
    expect(max - Math.ceil(budget.maxBytes / 3) * 4).toBeLessThan(1.3 * MiB);
    const forStderr = new RunnerOutput({
      nonce: 'n',
      bounds: budget,
      stdout: () => undefined,
      stderr: () => undefined,
    });
    forStderr.push('stdout', Buffer.from('\0cordon:n:\0'));
    forStderr.push('stderr', Buffer.from('\0cordon:n:'));
    const chunk = Buffer.alloc(MiB, 'A');
    let state = forStderr.state;
    for (let sent = 0; state === 'pending' && sent < 512; sent++) state = forStderr.push('stderr', chunk);
    expect(state).toBe('overflow');
    expect(forStderr.overflowProblem).toMatch(new RegExp(`bound of ${max} bytes`));
  });

  it('checks every field of the trailer strictly', () => {
    const problems = (value: unknown) => {
      const decoded = decodeTrailer(body(value), bounds);
      return decoded.ok ? undefined : decoded.problem;
    };
    expect(problems(honest)).toBeUndefined();
    const notJson = decodeTrailer(Buffer.from('!!!'), bounds);
    expect(notJson.ok ? '' : notJson.problem).toMatch(/not JSON/);
    expect(problems({ ...honest, exitCode: 'x' })).toMatch(/exitCode/);
    expect(problems({ ...honest, exitCode: 256 })).toMatch(/exitCode/);
    expect(problems({ ...honest, exitCode: -1 })).toMatch(/exitCode/);
    expect(problems({ ...honest, exitCode: 1.5 })).toMatch(/exitCode/);
    expect(problems({ ...honest, exitCode: null, signal: 'SIGNOPE' })).toMatch(/signal/);
    expect(problems({ ...honest, exitCode: 0, signal: 'SIGKILL' })).toMatch(/exactly one of exitCode and signal/);
    expect(problems({ ...honest, exitCode: null, signal: null })).toMatch(/exactly one of exitCode and signal/);
    expect(problems({ ...honest, exitCode: null, signal: 'SIGKILL' })).toBeUndefined();
    expect(problems({ ...honest, filesTruncated: 'no' })).toMatch(/filesTruncated/);
    expect(problems({ ...honest, files: [['a', 'not base64!']] })).toMatch(/files\.0\.1.*base64/);
    expect(problems({ ...honest, files: [['a']] })).toMatch(/files/);
    expect(problems({ ...honest, files: Array.from({ length: 4 }, (_, i) => [`f${i}`, '']) })).toMatch(/files/);
    expect(
      problems({
        ...honest,
        files: [
          ['a', Buffer.alloc(600).toString('base64')],
          ['b', Buffer.alloc(600).toString('base64')],
        ],
      }),
    ).toMatch(/1200 bytes, over the 1000-byte collection bound/);
    expect(problems({ ...honest, warnings: ['x'.repeat(1001)] })).toMatch(/warnings/);
    expect(problems({ ...honest, warnings: Array.from({ length: 33 }, () => 'w') })).toMatch(/warnings/);
    expect(problems({ ...honest, extra: true })).toMatch(/invalid/);
    const tooBig = Buffer.alloc(maxTrailerBodyBytes(bounds) + 1, ' ');
    const oversized = decodeTrailer(tooBig, bounds);
    expect(oversized.ok ? '' : oversized.problem).toMatch(/over its bound/);
  });
});
