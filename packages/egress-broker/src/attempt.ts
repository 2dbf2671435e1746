import type { EgressAuditLog, EgressPath, EgressRecord, EgressVerdict } from '@cordon/core';

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

/** What an attempt learns along the way; `end` turns it into its one record. */
export type AttemptFields = Omit<Mutable<EgressRecord>, 'at' | 'path' | 'verdict' | 'durationMs'>;

/**
 * One egress attempt: exactly one EgressRecord when it ends, however it ends
 * (answered, relayed, failed, or cut by close()).
 */
export class Attempt {
  readonly fields: AttemptFields = { bytesUp: 0, bytesDown: 0 };
  readonly #at = new Date();
  readonly #started = performance.now();
  #ended = false;

  constructor(
    readonly path: EgressPath,
    private readonly audit: EgressAuditLog,
    private readonly onEnd: (attempt: Attempt) => void,
  ) {}

  get ended(): boolean {
    return this.#ended;
  }

  set(fields: AttemptFields): this {
    Object.assign(this.fields, fields);
    return this;
  }

  /** Ends without a record: a tunnel carrying plain HTTP is recorded per request instead. */
  discard(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.onEnd(this);
  }

  /** Records the attempt; later calls are ignored, so racing endings cannot double-count. */
  end(verdict: EgressVerdict, reason?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    const { bytesUp = 0, bytesDown = 0, ...rest } = this.fields;
    const record: EgressRecord = {
      at: this.#at.toISOString(),
      path: this.path,
      ...definedOnly(rest),
      verdict,
      ...(reason !== undefined ? { reason } : rest.reason !== undefined ? { reason: rest.reason } : {}),
      bytesUp,
      bytesDown,
      durationMs: Math.round(performance.now() - this.#started),
    };
    this.onEnd(this);
    this.audit.add(record);
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
