import { constants } from 'node:os';

export interface ProgramStatus {
  exitCode: number | null;
  signal: string | null;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/** A raw wait status as the runner reports it; undefined if it is not one (bubblewrap alone reports a signal as exit 128+n). */
export function decodeWaitStatus(status: number): ProgramStatus | undefined {
  if (!Number.isInteger(status) || status < 0 || status > 0xffff) return undefined;
  const signal = status & 0x7f;
  if (signal === 0) return (status & 0xff) === 0 ? { exitCode: (status >> 8) & 0xff, signal: null } : undefined;
  if (signal === 0x7f) return undefined;
  return { exitCode: null, signal: SIGNAL_NAMES.get(signal) ?? `SIG${signal}` };
}

/** The exit code the runner (and so bubblewrap) ends with for a program's raw status: its code, or 128+n for signal n. */
export function runnerExitCode(status: number): number {
  const signal = status & 0x7f;
  return signal === 0 ? (status >> 8) & 0xff : 128 + signal;
}
