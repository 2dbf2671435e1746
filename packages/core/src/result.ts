import type { EgressAudit } from './egress/audit.js';

/**
 * `ok`: exit code 0. `error`: a non-zero exit or a signal. `timeout`: `timeoutMs`
 * passed and the tree was killed. `oom`: the memory limit killed it. `aborted`:
 * the caller's `AbortSignal` fired (queued or running).
 */
export const EXECUTION_STATUSES = ['ok', 'error', 'timeout', 'oom', 'aborted'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export interface CollectedFile {
  /** Relative to the working directory, `/`-separated. */
  path: string;
  content: Uint8Array;
}

export interface ExecutionResult {
  /** Per execution; also on every label, cgroup, container and log line the backend makes. */
  id: string;
  status: ExecutionStatus;
  /** Null when the program was killed by a signal or never exited on its own. */
  exitCode: number | null;
  /** Signal name such as `SIGKILL`, when the program died of one. */
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  files: CollectedFile[];
  /** True when collected files were left out because they passed the size cap. */
  filesTruncated: boolean;
  /** Wall time of the run itself, excluding time spent queued. */
  durationMs: number;
  /** Time spent waiting for a concurrency slot. */
  queuedMs: number;
  backend: string;
  /** Guarantees that were waived through `acceptUnenforced`, or other things the caller must know. */
  warnings: string[];
  /**
   * Every egress attempt the broker saw (bounded by the policy's `auditLimit`):
   * present when the policy was 'allow', or under 'none' when the backend observes
   * DNS (`capabilities().egress.dnsUnderNone`). Absent otherwise.
   */
  egress?: EgressAudit;
}

/** The CLI's exit code for a result: the program's own, or 124/137/128+n/130. */
export function exitCodeFor(result: ExecutionResult): number {
  switch (result.status) {
    case 'ok':
      return 0;
    case 'timeout':
      return 124;
    case 'oom':
      return 137;
    case 'aborted':
      return 130;
    case 'error':
      if (result.exitCode !== null) return result.exitCode;
      return 128 + signalNumber(result.signal);
  }
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGSYS: 31,
};

export function signalNumber(signal: string | null): number {
  if (signal === null) return 1;
  return SIGNAL_NUMBERS[signal] ?? 1;
}

/** Result as plain JSON (file contents in base64), for `--json` output and logs. */
export function resultToJson(result: ExecutionResult): Record<string, unknown> {
  return {
    ...result,
    files: result.files.map((file) => ({
      path: file.path,
      contentBase64: Buffer.from(file.content).toString('base64'),
      size: file.content.byteLength,
    })),
  };
}
