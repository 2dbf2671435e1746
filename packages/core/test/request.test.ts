import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/errors.js';
import { DEFAULT_LIMITS, parseExecutionRequest } from '../src/request.js';

function invalid(input: unknown): InvalidRequestError {
  try {
    parseExecutionRequest(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return error as InvalidRequestError;
  }
  throw new Error('expected an InvalidRequestError');
}

describe('parseExecutionRequest', () => {
  it('applies every default', () => {
    const request = parseExecutionRequest({ language: 'node', code: 'console.log(1)' });
    expect(request.timeoutMs).toBe(30_000);
    expect(request.limits).toEqual(DEFAULT_LIMITS);
    expect(request.network).toEqual({ mode: 'none' });
    expect(request.env).toEqual({});
    expect(request.files.size).toBe(0);
    expect(request.acceptUnenforced.size).toBe(0);
  });

  it('keeps partial limits and fills the rest', () => {
    const request = parseExecutionRequest({ language: 'python', code: '', limits: { pids: 32 } });
    expect(request.limits).toEqual({ ...DEFAULT_LIMITS, pids: 32 });
  });

  it('normalizes files to bytes and network to its object form', () => {
    const request = parseExecutionRequest({
      language: 'bash',
      code: 'ls',
      files: { './a/b.txt': 'hi', 'c.bin': new Uint8Array([1, 2]) },
      network: 'open',
    });
    expect([...request.files.keys()]).toEqual(['a/b.txt', 'c.bin']);
    expect(Buffer.from(request.files.get('a/b.txt') ?? []).toString()).toBe('hi');
    expect(request.network).toEqual({ mode: 'open' });
  });

  it.each([
    [{ language: 'ruby', code: '' }, 'language', 'ruby'],
    [{ language: 'node', code: 42 }, 'code', 42],
    [{ language: 'node', code: '', timeoutMs: -5 }, 'timeoutMs', -5],
    [{ language: 'node', code: '', limits: { memoryBytes: -1 } }, 'limits.memoryBytes', -1],
    [{ language: 'node', code: '', limits: { pids: 2.5 } }, 'limits.pids', 2.5],
    [{ language: 'node', code: '', limits: { cpus: 0 } }, 'limits.cpus', 0],
    [{ language: 'node', code: '', limits: { swap: 1 } }, 'limits.swap', undefined],
    [{ language: 'node', code: '', timeout: 5 }, 'timeout', undefined],
    [{ language: 'node', code: '', files: { '../etc/passwd': 'x' } }, 'files.../etc/passwd', '../etc/passwd'],
    [{ language: 'node', code: '', files: { '/etc/passwd': 'x' } }, 'files./etc/passwd', '/etc/passwd'],
    [{ language: 'node', code: '', collectFiles: ['../secret'] }, 'collectFiles.0', '../secret'],
    [{ language: 'node', code: '', files: { '.': 'x' } }, 'files..', '.'],
    [{ language: 'node', code: '', files: { 'a/': 'x' } }, 'files.a/', 'a/'],
    [{ language: 'node', code: '', files: { 'a//b': 'x' } }, 'files.a//b', 'a//b'],
    [{ language: 'node', code: '', files: { 'a/./b': 'x' } }, 'files.a/./b', 'a/./b'],
    [{ language: 'node', code: '', files: { ['n'.repeat(256)]: 'x' } }, `files.${'n'.repeat(256)}`, 'n'.repeat(256)],
    [{ language: 'node', code: '', files: { a: 'x', 'a/b': 'y' } }, 'files.a/b', 'a/b'],
    [{ language: 'node', code: '', files: { a: 'x', './a': 'y' } }, 'files../a', './a'],
    [{ language: 'node', code: '', collectFiles: ['.'] }, 'collectFiles.0', '.'],
    [{ language: 'node', code: '', collectFiles: ['out/'] }, 'collectFiles.0', 'out/'],
    [{ language: 'node', code: '', collectFiles: [`d/${'n'.repeat(300)}`] }, 'collectFiles.0', `d/${'n'.repeat(300)}`],
    [{ language: 'node', code: '', env: { 'BAD-NAME': 'x' } }, 'env.BAD-NAME', 'BAD-NAME'],
    [{ language: 'node', code: '', network: 'bridge' }, 'network', 'bridge'],
    [
      { language: 'node', code: '', network: { allow: ['api.example.com'] } },
      'network',
      { allow: ['api.example.com'] },
    ],
    [{ language: 'node', code: '', onStdout: 'not a function' }, 'onStdout', 'not a function'],
    [{ language: 'node', code: '', acceptUnenforced: ['everything'] }, 'acceptUnenforced', ['everything']],
  ])('rejects %j naming field %s', (input, field, value) => {
    const error = invalid(input);
    expect(error.field).toBe(field);
    if (value !== undefined) expect(error.value).toEqual(value);
    expect(error.message).toContain(field);
  });

  it('caps the total size of files by diskBytes', () => {
    const error = invalid({
      language: 'node',
      code: '',
      files: { 'big.bin': new Uint8Array(2 * 1024 * 1024) },
      limits: { diskBytes: 1024 * 1024 },
    });
    expect(error.field).toBe('files');
    expect(error.message).toMatch(/at most 1048576 bytes/);
  });

  it('expands acceptUnenforced: true to every guarantee', () => {
    const request = parseExecutionRequest({ language: 'node', code: '', acceptUnenforced: true });
    expect([...request.acceptUnenforced]).toContain('network');
    expect([...request.acceptUnenforced]).toContain('memoryBytes');
  });
});
