import { constants } from 'node:os';

/** The control socket's fd in the sandbox's first process. */
export const CONTROL_FD = 3;

/**
 * The sandbox's first process: a few lines of Perl (part of every Debian/Ubuntu
 * base system, ~1 ms to start). It exists because bubblewrap's init reports a
 * signal death as exit 128+n, which is indistinguishable from a real exit code;
 * the runner reports the raw wait status on the control socket instead. With
 * `hold` it then waits for the host to finish reading collected files, so the
 * sandbox's tmpfs stays mounted until then. The program never inherits the socket.
 */
export const RUNNER_SOURCE = [
  'my $hold = shift @ARGV;',
  `open(my $c, "+<&=", ${CONTROL_FD}) or exit 125;`,
  // The program's environment arrives on the socket (NUL-separated, ended by two NULs),
  // so it never sits in an argv or in the host-side wrappers' environment.
  'my $e = ""; while ($e !~ /\\0\\0\\z/) { sysread($c, $e, 65536, length $e) or exit 125 }',
  '%ENV = (); for (split /\\0/, substr($e, 0, -2)) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v }',
  'syswrite($c, "R\\n");',
  'my $p = fork;',
  'defined $p or exit 125;',
  'if (!$p) { close $c; exec { $ARGV[0] } @ARGV; print STDERR "cordon: cannot run $ARGV[0]: $!\\n"; exit 127 }',
  'waitpid($p, 0);',
  'syswrite($c, "S $?\\n");',
  'sysread($c, my $done, 1) if $hold;',
].join(' ');

/** The environment block the runner reads before starting the program. */
export function encodeEnv(env: Record<string, string>): Buffer {
  const pairs = Object.entries(env).map(([key, value]) => `${key}=${value}`);
  return Buffer.from(`${pairs.join('\0')}\0\0`, 'utf8');
}

export function runnerArgs(perlPath: string, hold: boolean): string[] {
  return [perlPath, '-e', RUNNER_SOURCE, hold ? '1' : '0'];
}

export interface ProgramStatus {
  exitCode: number | null;
  signal: string | null;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/** Decodes a raw wait status as reported by the runner. */
export function decodeWaitStatus(status: number): ProgramStatus {
  const signal = status & 0x7f;
  if (signal === 0) return { exitCode: (status >> 8) & 0xff, signal: null };
  return { exitCode: null, signal: SIGNAL_NAMES.get(signal) ?? `SIG${signal}` };
}

/** Reads the runner's control lines: `R` when it started, `S <status>` when the program exited. */
export class ControlChannel {
  started = false;
  status: ProgramStatus | undefined;
  #buffer = '';
  readonly #onStatus: () => void;

  constructor(onStatus: () => void) {
    this.#onStatus = onStatus;
  }

  push(chunk: Buffer): void {
    this.#buffer += chunk.toString('latin1');
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line === 'R') this.started = true;
      else if (line.startsWith('S ') && this.status === undefined) {
        this.status = decodeWaitStatus(Number(line.slice(2)));
        this.#onStatus();
      }
    }
  }
}
