/**
 * The per-execution egress audit: one record per attempt the broker observed,
 * allowed or denied. Records never carry a credential value.
 */

/** How the attempt reached the broker. */
export type EgressPath =
  /** A DNS query to the sandbox's resolver (the broker). */
  | 'dns'
  /** An HTTP proxy `CONNECT host:port` (HTTPS through HTTP(S)_PROXY). */
  | 'proxy-connect'
  /** A plain-HTTP request sent to the HTTP proxy with an absolute URI; one record per request. */
  | 'proxy-http'
  /** A SOCKS5 CONNECT (ALL_PROXY=socks5h://…). */
  | 'socks'
  /** A connection that ignored every proxy setting, captured in the sandbox's network stack. */
  | 'captured';

export type EgressVerdict = 'allowed' | 'denied';

export interface EgressRecord {
  /** ISO time the attempt started. */
  readonly at: string;
  readonly path: EgressPath;
  /** The name asked for (DNS query name, CONNECT/SOCKS target, Host header, or the name behind a captured address). */
  readonly host?: string;
  /** The TLS server name the client sent, when it sent one. */
  readonly sni?: string;
  /** The address the broker dialled (or would have): pinned once resolved. */
  readonly address?: string;
  /** The port the program asked for. */
  readonly port?: number;
  /** For DNS: the query type (A, AAAA, TXT, ...). For plain HTTP: the method. */
  readonly kind?: string;
  readonly verdict: EgressVerdict;
  /** The rule as the caller wrote it, when one matched. */
  readonly rule?: string;
  /** Why it was denied (or a note on an allowed attempt, such as an upstream error). */
  readonly reason?: string;
  /** Bytes from the sandbox toward the destination. */
  readonly bytesUp: number;
  /** Bytes from the destination toward the sandbox. */
  readonly bytesDown: number;
  readonly durationMs: number;
}

/** What comes back on `ExecutionResult.egress`. */
export interface EgressAudit {
  /** In the order the attempts ended (a DNS query at once, a connection when it closes); at most the policy's `auditLimit`. */
  readonly records: readonly EgressRecord[];
  /** Records left out because the limit was reached. */
  readonly dropped: number;
}

/** Records default to at most this many per execution. */
export const DEFAULT_AUDIT_LIMIT = 1_000;

/**
 * Collects one execution's records, bounded; `onRecord` sees every record as it
 * completes (also the dropped ones, so live metering counts them).
 */
export class EgressAuditLog {
  readonly #records: EgressRecord[] = [];
  #dropped = 0;

  constructor(
    private readonly limit: number = DEFAULT_AUDIT_LIMIT,
    private readonly onRecord?: (record: EgressRecord) => void,
  ) {}

  add(record: EgressRecord): void {
    if (this.#records.length < this.limit) this.#records.push(record);
    else this.#dropped++;
    this.onRecord?.(record);
  }

  snapshot(): EgressAudit {
    return { records: [...this.#records], dropped: this.#dropped };
  }
}
