import { RecordReader, type RunnerRecord } from './runner-records.js';
import { decodeWaitStatus } from './wait-status.js';

/** The W, R and S records carry a few digits at most. */
const MAX_LINE_PAYLOAD_BYTES = 32;

/** Takes the records that follow the status (the collection); returns why one is wrong, if it is. */
export type AfterStatusHandler = (record: RunnerRecord) => string | undefined;

/**
 * The host's side of the runner's runner socket: `W` waiting for its job, `R <pid>`
 * the program started, `S <raw wait status>` it exited, then (with a collection) the
 * records of the collection. Every record is bounded before it is buffered; anything
 * out of order or past a bound is a violation, reported once, after which nothing more
 * is read (the sandbox is then killed and the run fails closed).
 */
export class RunnerChannel {
  waiting = false;
  started = false;
  /** The program's pid as the runner sees it (a host pid in the advisory isolation). */
  programPid: number | undefined;
  /** The program's raw wait status, as reported. */
  status: number | undefined;
  violation: string | undefined;
  readonly #reader = new RecordReader();
  #afterStatus: AfterStatusHandler | undefined;
  readonly #listeners: { waiting?: () => void; status?: () => void; violation?: (reason: string) => void } = {};

  onWaiting(listener: () => void): void {
    if (this.waiting) listener();
    else this.#listeners.waiting = listener;
  }

  onStatus(listener: () => void): void {
    if (this.status !== undefined) listener();
    else this.#listeners.status = listener;
  }

  onViolation(listener: (reason: string) => void): void {
    if (this.violation !== undefined) listener(this.violation);
    else this.#listeners.violation = listener;
  }

  /** Records after the status go to `handler`; without one, any is a violation. Set before the job is sent. */
  afterStatus(handler: AfterStatusHandler): void {
    this.#afterStatus = handler;
  }

  push(chunk: Buffer): void {
    if (this.violation !== undefined) return;
    let records: RunnerRecord[];
    try {
      records = this.#reader.push(chunk);
    } catch (error) {
      this.#fail(error instanceof Error ? error.message : String(error));
      return;
    }
    for (const record of records) {
      const problem = this.#handle(record);
      if (problem !== undefined) {
        this.#fail(problem);
        return;
      }
    }
  }

  #handle(record: RunnerRecord): string | undefined {
    if (this.status !== undefined)
      return this.#afterStatus
        ? this.#afterStatus(record)
        : `a "${record.type}" record after the status, with no collection asked for`;
    if (record.payload.byteLength > MAX_LINE_PAYLOAD_BYTES)
      return `a "${record.type}" record of ${record.payload.byteLength} bytes`;
    const text = record.payload.toString('latin1');
    switch (record.type) {
      case 'W':
        if (this.waiting) return 'a second "W"';
        this.waiting = true;
        this.#listeners.waiting?.();
        return undefined;
      case 'R':
        if (!this.waiting || this.started || !/^\d+$/.test(text)) return `an unexpected "R ${text}"`;
        this.started = true;
        this.programPid = Number(text);
        return undefined;
      case 'S':
        if (!this.started || !/^\d+$/.test(text) || decodeWaitStatus(Number(text)) === undefined)
          return `an unexpected "S ${text}"`;
        this.status = Number(text);
        this.#listeners.status?.();
        return undefined;
      default:
        return `an unknown record type ${JSON.stringify(record.type)} before the status`;
    }
  }

  #fail(reason: string): void {
    this.violation = reason;
    this.#listeners.violation?.(reason);
  }
}
