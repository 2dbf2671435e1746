/**
 * What the run is doing, on stderr: one rewritten status line on a terminal,
 * plain phase lines otherwise (CI logs), so stdout stays the report.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #live: boolean;
  readonly #started = performance.now();
  #phase = '';
  #phaseIndex = 0;
  readonly #phaseCount: number;
  #lastDraw = 0;

  constructor(stream: NodeJS.WriteStream, phaseCount: number) {
    this.#stream = stream;
    this.#live = stream.isTTY === true;
    this.#phaseCount = phaseCount;
  }

  phase(title: string): void {
    this.#phaseIndex++;
    this.#phase = title;
    if (this.#live) this.#draw(`${this.#prefix()} …`);
    else this.#stream.write(`${this.#prefix()}\n`);
  }

  update(done: number, total: number, detail: string): void {
    if (!this.#live) return;
    const now = performance.now();
    if (now - this.#lastDraw < 80 && done < total) return;
    this.#lastDraw = now;
    this.#draw(`${this.#prefix()} ${bar(done, total)} ${done}/${total} · ${detail}`);
  }

  /** A line that stays (a skip, a warning). */
  note(line: string): void {
    if (this.#live) this.#stream.write('\r\x1b[K');
    this.#stream.write(`${line}\n`);
  }

  finish(): void {
    if (this.#live) this.#stream.write('\r\x1b[K');
    this.#stream.write(`bench: done in ${elapsed(performance.now() - this.#started)}\n`);
  }

  #prefix(): string {
    return `[${this.#phaseIndex}/${this.#phaseCount} ${elapsed(performance.now() - this.#started)}] ${this.#phase}`;
  }

  #draw(text: string): void {
    const width = this.#stream.columns > 20 ? this.#stream.columns - 1 : 119;
    this.#stream.write(`\r\x1b[K${text.slice(0, width)}`);
  }
}

function bar(done: number, total: number): string {
  const width = 16;
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export function elapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}
