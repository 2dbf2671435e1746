import { describe, expect, it } from 'vitest';
import { TrailerScanner } from '../src/backend/runner-protocol.js';

function scan(chunks: string[], nonce = 'n1'): { passed: string; done: boolean; body: string | undefined } {
  const passed: Buffer[] = [];
  const scanner = new TrailerScanner({ nonce, maxBodyBytes: 1024, emit: (chunk) => passed.push(Buffer.from(chunk)) });
  for (const chunk of chunks) scanner.push(Buffer.from(chunk));
  if (!scanner.done) scanner.end();
  return { passed: Buffer.concat(passed).toString(), done: scanner.done, body: scanner.body?.toString() };
}

describe('TrailerScanner', () => {
  it('passes output through and finds the trailer in one chunk', () => {
    expect(scan(['hello\n\0cordon:n1:BODY\0'])).toEqual({ passed: 'hello\n', done: true, body: 'BODY' });
  });

  it('finds a marker split at every possible point', () => {
    const whole = 'abc\0cordon:n1:xyz\0';
    for (let at = 1; at < whole.length; at++) {
      expect(scan([whole.slice(0, at), whole.slice(at)])).toEqual({ passed: 'abc', done: true, body: 'xyz' });
    }
  });

  it('releases held bytes that turn out not to be a marker', () => {
    expect(scan(['a\0cor', 'al'])).toEqual({ passed: 'a\0coral', done: false, body: undefined });
    expect(scan(['a\0cordon:', 'n2:x\0'])).toEqual({ passed: 'a\0cordon:n2:x\0', done: false, body: undefined });
  });

  it('ignores a trailer with another nonce and anything after the real one', () => {
    expect(scan(['\0cordon:zz:fake\0out\0cordon:n1:\0late'])).toEqual({
      passed: '\0cordon:zz:fake\0out',
      done: true,
      body: '',
    });
  });

  it('collects a body spread over many chunks', () => {
    expect(scan(['\0cordon:n1:a', 'b', 'c\0'])).toEqual({ passed: '', done: true, body: 'abc' });
  });

  it('buffers no more than its bound of body bytes', () => {
    const scanner = new TrailerScanner({ nonce: 'n1', maxBodyBytes: 4, emit: () => undefined });
    scanner.push(Buffer.from('\0cordon:n1:abcd'));
    expect(scanner.overflowed).toBe(false);
    scanner.push(Buffer.from('e\0'));
    expect({ overflowed: scanner.overflowed, done: scanner.done, body: scanner.body }).toEqual({
      overflowed: true,
      done: false,
      body: undefined,
    });
  });
});
