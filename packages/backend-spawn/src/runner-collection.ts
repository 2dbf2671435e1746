import type { CollectedFile } from '@cordon/core';
import {
  MAX_LISTED_ENTRIES,
  planCollection,
  SPECIAL_FILE_TYPES,
  type CollectionPlan,
  type ListedEntry,
  type WantedFile,
} from './collection-plan.js';
import { collectWarning, describePath, MAX_COLLECT_LISTING_BYTES } from '@cordon/core/backend';
import { encodeFileRequest, MAX_RECORD_PAYLOAD_BYTES, type RunnerRecord } from './runner-records.js';

/**
 * The runner stops listing past MAX_COLLECT_LISTING_BYTES of paths (after at most one more
 * entry) or MAX_LISTED_ENTRIES entries; each record adds at most 13 bytes of framing (type,
 * length, size). Past this the host stops believing it.
 */
const MAX_LISTING_BYTES =
  MAX_COLLECT_LISTING_BYTES + MAX_RECORD_PAYLOAD_BYTES + (MAX_LISTED_ENTRIES + 2) * 13 + 64 * 1024;

export interface CollectionResult {
  files: CollectedFile[];
  truncated: boolean;
  warnings: string[];
}

const NOT_LISTED_KINDS = { P: 'too-deep', U: 'unreadable', X: 'other-filesystem' } as const;

interface Reading {
  file: WantedFile;
  sizeBytes: number | undefined;
  chunks: Buffer[];
  receivedBytes: number;
}

/**
 * The host's side of a collection by the runner: it takes the listing the runner
 * sends after the status, chooses the files (`planCollection`), asks for them, and
 * takes their contents. It only ever buffers what it asked for: a listing or a file
 * past its bound, or a record out of order, is a violation (the run fails closed).
 */
export class RunnerCollection {
  readonly #patterns: readonly string[];
  readonly #diskBytes: number;
  readonly #send: (record: Buffer) => void;
  readonly #finish: () => void;
  readonly #entries: ListedEntry[] = [];
  #listingBytes = 0;
  #cutShort = false;
  #plan: CollectionPlan | undefined;
  #next = 0;
  #reading: Reading | undefined;
  readonly #files: CollectedFile[] = [];
  readonly #warnings: string[] = [];
  #result: CollectionResult | undefined;

  constructor(params: {
    patterns: readonly string[];
    diskBytes: number;
    send: (record: Buffer) => void;
    finish: () => void;
  }) {
    this.#patterns = params.patterns;
    this.#diskBytes = params.diskBytes;
    this.#send = params.send;
    this.#finish = params.finish;
  }

  /** Set once every requested file was answered. */
  get result(): CollectionResult | undefined {
    return this.#result;
  }

  /** Takes one record from the runner; returns why it is wrong, if it is. */
  handle(record: RunnerRecord): string | undefined {
    return this.#plan ? this.#answer(record) : this.#list(record);
  }

  #list({ type, payload }: RunnerRecord): string | undefined {
    this.#listingBytes += 5 + payload.byteLength;
    if (this.#listingBytes > MAX_LISTING_BYTES || this.#entries.length > MAX_LISTED_ENTRIES)
      return `a listing past ${MAX_LISTED_ENTRIES} entries or ${MAX_LISTING_BYTES} bytes`;
    switch (type) {
      case 'L': {
        if (payload.byteLength <= 8) return 'a listed file without a name';
        const sizeBytes = Number(payload.readBigUInt64BE(0));
        if (!Number.isSafeInteger(sizeBytes)) return 'a listed file of an impossible size';
        this.#entries.push({ kind: 'file', sizeBytes, pathBytes: payload.subarray(8) });
        return undefined;
      }
      case 'N': {
        const fileType = SPECIAL_FILE_TYPES[String.fromCharCode(payload[0] ?? 0)];
        if (payload.byteLength <= 1 || fileType === undefined) return 'a listed special file without a kind or a name';
        this.#entries.push({ kind: 'special', fileType, pathBytes: payload.subarray(1) });
        return undefined;
      }
      case 'P':
      case 'U':
      case 'X':
        if (payload.byteLength === 0) return `a "${type}" entry without a name`;
        this.#entries.push({ kind: NOT_LISTED_KINDS[type], pathBytes: payload });
        return undefined;
      case 'T':
        this.#cutShort = true;
        return undefined;
      case 'M':
        this.#plan = planCollection(
          { entries: this.#entries, cutShort: this.#cutShort },
          this.#patterns,
          this.#diskBytes,
        );
        this.#entries.length = 0;
        for (const file of this.#plan.wanted) this.#send(encodeFileRequest(file.pathBytes, file.sizeBytes));
        this.#completeIfDone();
        return undefined;
      default:
        return `an unexpected "${type}" record in the listing`;
    }
  }

  #answer({ type, payload }: RunnerRecord): string | undefined {
    const file = this.#plan!.wanted[this.#next];
    if (!file) return `a "${type}" record after every requested file was answered`;
    const reading = this.#reading;
    if (!reading) {
      if (type === 'V') {
        this.#warnings.push(collectWarning.file(describePath(file.path), payload.toString('utf8').slice(0, 100)));
        this.#advance();
        return undefined;
      }
      if (type !== 'O' || payload.byteLength !== 8)
        return `an unexpected "${type}" record for ${describePath(file.path)}`;
      const sizeBytes = Number(payload.readBigUInt64BE(0));
      if (sizeBytes > file.sizeBytes)
        return `${describePath(file.path)} announced with ${sizeBytes} bytes, more than the ${file.sizeBytes} asked for`;
      this.#reading = { file, sizeBytes, chunks: [], receivedBytes: 0 };
      return undefined;
    }
    if (type === 'B') {
      reading.receivedBytes += payload.byteLength;
      if (reading.receivedBytes > reading.sizeBytes!) return `more bytes of ${describePath(file.path)} than announced`;
      reading.chunks.push(payload);
      return undefined;
    }
    if (type !== 'Z') return `an unexpected "${type}" record inside ${describePath(file.path)}`;
    this.#files.push({ path: file.path, content: Buffer.concat(reading.chunks) });
    this.#reading = undefined;
    this.#advance();
    return undefined;
  }

  #advance(): void {
    this.#next++;
    this.#completeIfDone();
  }

  #completeIfDone(): void {
    const plan = this.#plan!;
    if (this.#next < plan.wanted.length) return;
    this.#result = { files: this.#files, truncated: plan.truncated, warnings: [...plan.warnings, ...this.#warnings] };
    // The runner exits when the host is done.
    this.#finish();
  }
}
