import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { normalizeHostName } from '@cordon/core';
import { getExtensionData, readTlsClientHello } from 'read-tls-client-hello';
import { printable } from './names.js';

/** What the client sent first on a tunnel, judged before a byte of it goes upstream. */
export type FirstBytes =
  | { readonly kind: 'tls'; readonly sni?: string; readonly bytes: Buffer; readonly ended?: boolean }
  | { readonly kind: 'http'; readonly bytes: Buffer; readonly ended?: boolean }
  | { readonly kind: 'other'; readonly bytes: Buffer; readonly ended?: boolean }
  /** Nothing within the wait (a server-speaks-first protocol, or a slow client). */
  | { readonly kind: 'silent' }
  | { readonly kind: 'bad'; readonly reason: string }
  | { readonly kind: 'closed' };

/** A TLS record is at most 2^14 bytes of plaintext (plus slack some stacks use). */
const MAX_TLS_RECORD = 16_384 + 256;
/** Longest HTTP method the broker recognises as one. */
const MAX_METHOD = 20;
const PARSE_TIMEOUT_MS = 1_000;

type Classified = { kind: 'need-more' } | { kind: 'tls-record'; length: number } | FirstBytes;

/**
 * Reads the client's first bytes without consuming the stream for anyone else:
 * the caller gets them back in `bytes`. `timeoutMs` undefined waits for the
 * socket to say something or close.
 */
export function readFirstBytes(socket: Socket, initial: Buffer, timeoutMs?: number): Promise<FirstBytes> {
  return new Promise<FirstBytes>((resolve) => {
    let buffer = initial;
    let settled = false;
    /** The client half-closed after sending: the caller passes the end on upstream. */
    let ended = false;
    const finish = (result: FirstBytes | Promise<FirstBytes>) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.pause();
      resolve(Promise.resolve(result).then((value) => ('bytes' in value && ended ? { ...value, ended } : value)));
    };
    const judge = (final: boolean) => {
      const result = classify(buffer);
      if (result.kind === 'need-more') {
        if (final) finish(buffer.length === 0 ? { kind: 'silent' } : fallback(buffer));
        return;
      }
      if (result.kind === 'tls-record') finish(parseClientHello(buffer, result.length));
      else finish(result);
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      judge(false);
    };
    const onEnd = () => {
      ended = true;
      if (buffer.length === 0) finish({ kind: 'closed' });
      else judge(true);
    };
    const onClose = () => finish({ kind: 'closed' });
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => judge(true), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    judge(false);
    if (!settled) socket.resume();
  });
}

/** A partial first message after the wait: a method prefix is HTTP (its parser waits on), a TLS prefix is bad. */
function fallback(buffer: Buffer): FirstBytes {
  if (buffer[0] === 0x16) return { kind: 'bad', reason: 'incomplete TLS ClientHello' };
  if (/^[A-Z]+$/.test(buffer.toString('latin1'))) return { kind: 'http', bytes: buffer };
  return { kind: 'other', bytes: buffer };
}

function classify(buffer: Buffer): Classified {
  if (buffer.length === 0) return { kind: 'need-more' };
  if (buffer[0] === 0x16) {
    if (buffer.length < 5) return { kind: 'need-more' };
    const length = buffer.readUInt16BE(3);
    if (length < 4 || length > MAX_TLS_RECORD) return { kind: 'bad', reason: 'malformed TLS record' };
    return buffer.length >= 5 + length ? { kind: 'tls-record', length: 5 + length } : { kind: 'need-more' };
  }
  const head = buffer.subarray(0, MAX_METHOD + 1).toString('latin1');
  const method = /^([A-Z]+)( |$)/.exec(head);
  if (!method) return { kind: 'other', bytes: buffer };
  if (method[2] === ' ') return { kind: 'http', bytes: buffer };
  return head.length > MAX_METHOD ? { kind: 'other', bytes: buffer } : { kind: 'need-more' };
}

/** Parses the first record (`recordLength` bytes) of `bytes`; the result carries all of `bytes`. */
async function parseClientHello(bytes: Buffer, recordLength: number): Promise<FirstBytes> {
  try {
    const record = Buffer.from(bytes.subarray(0, recordLength));
    const hello = await withTimeout(
      readTlsClientHello(Readable.from([record], { objectMode: false })),
      PARSE_TIMEOUT_MS,
    );
    const sniExtensions = hello.extensions.filter((extension) => extension.id === 0);
    if (sniExtensions.length === 0) return { kind: 'tls', bytes };
    if (sniExtensions.length > 1) return { kind: 'bad', reason: 'TLS ClientHello carries more than one SNI' };
    const serverName = getExtensionData(hello, 'server_name')?.serverName;
    if (serverName === undefined) return { kind: 'bad', reason: 'TLS ClientHello has an unreadable SNI' };
    const sni = normalizeHostName(serverName);
    if (sni === undefined) return { kind: 'bad', reason: `SNI ${printable(serverName, 80)} is not a valid host name` };
    return { kind: 'tls', sni, bytes };
  } catch (error) {
    return { kind: 'bad', reason: `unreadable TLS ClientHello (${error instanceof Error ? error.message : 'error'})` };
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('parse timed out')), timeoutMs);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error instanceof Error ? error : new Error(String(error)))),
    );
  });
}
