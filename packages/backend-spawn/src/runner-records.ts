/**
 * The records on the runner's runner socket, both ways: type (one byte), payload
 * length (u32 BE), payload. See `runner.pl` for the types.
 */

/** The longest payload the host accepts from the runner in one record (a file chunk is 64 KiB, a path at most ~17 KiB). */
export const MAX_RECORD_PAYLOAD_BYTES = 64 * 1024;

const HEADER_BYTES = 5;
const CHUNK_BYTES = 64 * 1024;

export function encodeRecord(type: string, payload: Uint8Array | string = ''): Buffer {
  const body =
    typeof payload === 'string'
      ? Buffer.from(payload, 'utf8')
      : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(body.byteLength, 1);
  return Buffer.concat([header, body]);
}

/** What the runner is told to do; paths are inside the sandbox. */
export interface RunnerJob {
  dirs: readonly string[];
  files: ReadonlyMap<string, Uint8Array>;
  env: Record<string, string>;
  argv: readonly string[];
  /** Collect files after the program exits (the request has `collectFiles`). */
  hold: boolean;
}

/** Encodes a job as the runner's records (files in chunks, so the runner's memory stays small). */
export function encodeJob(job: RunnerJob): Buffer[] {
  const records: Buffer[] = job.dirs.map((dir) => encodeRecord('D', dir));
  for (const [path, content] of job.files) {
    records.push(encodeRecord('F', path));
    for (let offset = 0; offset < content.byteLength; offset += CHUNK_BYTES)
      records.push(encodeRecord('C', content.subarray(offset, offset + CHUNK_BYTES)));
  }
  for (const [key, value] of Object.entries(job.env)) records.push(encodeRecord('E', `${key}=${value}`));
  records.push(encodeRecord('A', job.argv.join('\0')));
  if (job.hold) records.push(encodeRecord('H'));
  records.push(encodeRecord('G'));
  return records;
}

/** Asks the runner for one listed file, at most `maxBytes` of it. */
export function encodeFileRequest(pathBytes: Buffer, maxBytes: number): Buffer {
  const payload = Buffer.alloc(8 + pathBytes.byteLength);
  payload.writeBigUInt64BE(BigInt(maxBytes), 0);
  pathBytes.copy(payload, 8);
  return encodeRecord('Q', payload);
}

export interface RunnerRecord {
  type: string;
  payload: Buffer;
}

/** The declared length of a record was past the bound: the runner is not speaking the protocol. */
export class RecordTooLargeError extends Error {}

/**
 * Splits the runner's byte stream into records without ever holding more than one
 * record's bound (plus one read chunk): a declared length past the bound is refused
 * before anything of it is buffered.
 */
export class RecordReader {
  #pending: Buffer = Buffer.alloc(0);

  /** Records completed by this chunk. @throws RecordTooLargeError */
  push(chunk: Buffer): RunnerRecord[] {
    this.#pending = this.#pending.byteLength === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const records: RunnerRecord[] = [];
    let offset = 0;
    while (this.#pending.byteLength - offset >= HEADER_BYTES) {
      const length = this.#pending.readUInt32BE(offset + 1);
      if (length > MAX_RECORD_PAYLOAD_BYTES)
        throw new RecordTooLargeError(`a record of ${length} bytes (the bound is ${MAX_RECORD_PAYLOAD_BYTES})`);
      if (this.#pending.byteLength - offset < HEADER_BYTES + length) break;
      const type = String.fromCharCode(this.#pending[offset]!);
      // A copy, so a kept payload does not pin the whole read buffer.
      const payload = Buffer.from(this.#pending.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length));
      records.push({ type, payload });
      offset += HEADER_BYTES + length;
    }
    this.#pending = this.#pending.subarray(offset);
    return records;
  }
}
