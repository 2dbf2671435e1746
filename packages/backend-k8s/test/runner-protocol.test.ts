import { parseExecutionRequest } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import { decodeTrailer, encodePayload, TrailerScanner } from '../src/runner-protocol.js';

describe('runner protocol 1', () => {
  it('encodes a length-prefixed JSON payload', () => {
    const request = parseExecutionRequest({ language: 'python', code: 'print(1)', env: { A: 'b' }, files: { 'd/x.txt': 'hi' }, collectFiles: ['*.txt'] });
    const payload = encodePayload(request, 'n0nce', 1000);
    const length = payload.readUInt32BE(0);
    expect(length).toBe(payload.byteLength - 4);
    expect(JSON.parse(payload.subarray(4).toString('utf8'))).toEqual({
      v: 1, nonce: 'n0nce', language: 'python', code: 'print(1)', env: { A: 'b' },
      files: [['d/x.txt', Buffer.from('hi').toString('base64')]], collect: ['*.txt'], collectMaxBytes: 1000,
    });
  });

  it('strips the trailer from a stream split at every byte, and decodes its body', () => {
    const body = Buffer.from(JSON.stringify({ exitCode: 3, signal: null, files: [['a', Buffer.from('x').toString('base64')]], filesTruncated: false })).toString('base64');
    const stream = Buffer.from(`out\0put\0cordon:abc:${body}\0ignored`);
    const seen: Buffer[] = [];
    const scanner = new TrailerScanner('abc', (chunk) => seen.push(Buffer.from(chunk)));
    for (let i = 0; i < stream.byteLength; i++) scanner.push(stream.subarray(i, i + 1));
    expect(scanner.done).toBe(true);
    expect(Buffer.concat(seen).toString()).toBe('out\0put');
    const trailer = decodeTrailer(scanner.body!);
    expect(trailer).toMatchObject({ exitCode: 3, signal: null, filesTruncated: false });
    expect(Buffer.from(trailer!.files[0]!.content).toString()).toBe('x');
  });

  it('ignores a trailer with another nonce (a program cannot forge one)', () => {
    const seen: Buffer[] = [];
    const scanner = new TrailerScanner('real', (chunk) => seen.push(Buffer.from(chunk)));
    scanner.push(Buffer.from('\0cordon:fake:\0'));
    scanner.end();
    expect(scanner.done).toBe(false);
    expect(Buffer.concat(seen).toString()).toBe('\0cordon:fake:\0');
  });

  it('rejects a malformed trailer body', () => {
    expect(decodeTrailer(Buffer.from('!!!'))).toBeUndefined();
    expect(decodeTrailer(Buffer.from(Buffer.from('{"exitCode":"x"}').toString('base64')))).toBeUndefined();
  });
});
