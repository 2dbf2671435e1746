import { MAX_FILES_BYTES, type CollectedFile, type NormalizedRequest } from '@cordon/core';
import { z } from 'zod';

/**
 * What goes into the container over stdin (protocol 1, see images/runtime/runner):
 * a 4-byte big-endian length, that many bytes of JSON, then the program's stdin.
 */
export function encodePayload(request: NormalizedRequest, nonce: string): Buffer {
  const json = Buffer.from(JSON.stringify({
    v: 1,
    nonce,
    language: request.language,
    code: request.code,
    env: request.env,
    files: [...request.files].map(([path, content]) => [path, Buffer.from(content).toString('base64')]),
    collect: request.collectFiles,
    // Collected files come back inside the trailer; bounded like the files a request may send.
    collectMaxBytes: Math.min(MAX_FILES_BYTES, request.limits.diskBytes),
  }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json]);
}

const trailerSchema = z.object({
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  files: z.array(z.tuple([z.string(), z.string()])),
  filesTruncated: z.boolean(),
});

export interface RunnerTrailer {
  exitCode: number | null;
  signal: string | null;
  files: CollectedFile[];
  filesTruncated: boolean;
}

/** Decodes the stderr trailer body; undefined when it is not a valid one. */
export function decodeTrailer(body: Buffer): RunnerTrailer | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.toString('ascii'), 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  const result = trailerSchema.safeParse(parsed);
  if (!result.success) return undefined;
  return {
    exitCode: result.data.exitCode,
    signal: result.data.signal,
    files: result.data.files.map(([path, content]) => ({ path, content: new Uint8Array(Buffer.from(content, 'base64')) })),
    filesTruncated: result.data.filesTruncated,
  };
}
