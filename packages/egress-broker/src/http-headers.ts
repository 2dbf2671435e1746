import type { IncomingMessage } from 'node:http';

/** Hop-by-hop and proxy-only headers: never passed on in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** `rawHeaders` without hop-by-hop headers and those the Connection header names, in the same flat form. */
export function endToEndHeaders(message: IncomingMessage): string[] {
  const raw = message.rawHeaders;
  const named = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === 'connection') {
      for (const token of (raw[i + 1] ?? '').split(',')) named.add(token.trim().toLowerCase());
    }
  }
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    kept.push(name, raw[i + 1] ?? '');
  }
  return kept;
}

/** About the bytes a message head takes on the wire: start line plus headers. */
export function headBytes(startLine: string, rawHeaders: readonly string[]): number {
  let total = startLine.length + 4;
  for (const part of rawHeaders) total += part.length + 2;
  return total;
}

/** How many Host headers the request carried (Node keeps only the first in `headers`). */
export function hostHeaderCount(message: IncomingMessage): number {
  let count = 0;
  for (let i = 0; i < message.rawHeaders.length; i += 2) if (message.rawHeaders[i]?.toLowerCase() === 'host') count++;
  return count;
}
