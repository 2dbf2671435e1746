import { constants } from 'node:os';

/** The control socket's fd in the sandbox's first process. */
export const CONTROL_FD = 3;

/**
 * The sandbox's first process (its PID-namespace init in the kernel tier): a few
 * lines of Perl, part of every Debian/Ubuntu base system and ~1 ms to start.
 *
 * It says `W` and waits for its job on the control socket, as records: `D` make a
 * directory, `F` open a file and `C` append a chunk to it, `E` one environment
 * variable, `A` the program's argv, `H` hold after the program exits, `G` go. So
 * the request's files, code and environment never sit in an argv or a host-side
 * process's environment, and a sandbox can be started before its job is known (the
 * pool). It then says `R`, runs the program, and reports its raw wait status as
 * `S <status>`: bubblewrap alone reports a signal death as exit 128+n, the same
 * as a real exit code. With `H` it waits for the host to finish reading collected
 * files, so the sandbox's tmpfs stays mounted until then. The program never
 * inherits the socket. Exit 124/125 before `R` means the job could not be set up.
 */
export const RUNNER_SOURCE = [
  // Descriptors the host process inherited without close-on-exec (from its own parent) must not reach the sandbox.
  `opendir(my $d, "/proc/self/fd") or exit 125; my @stray = grep { /^\\d+$/ && $_ > ${CONTROL_FD} } readdir($d); closedir($d);`,
  'for (@stray) { if (open(my $h, "<&=", $_)) { close($h) } }',
  `open(my $c, "+<&=", ${CONTROL_FD}) or exit 125;`,
  'sub rd { my $n = shift; my $b = ""; while (length($b) < $n) { sysread($c, $b, $n - length($b), length($b)) or exit 125 } $b }',
  // Pool: pre-boot Node (argv: node, boot script, NODE_OPTIONS) on a job pipe that only it holds.
  'my ($jr, $jw, $pre);',
  'if (@ARGV) {',
  '  { local $^F = 1023; pipe($jr, $jw) or exit 125 }',
  '  $pre = fork; defined $pre or exit 125;',
  '  if (!$pre) { close $c; close $jw; %ENV = (PATH => $ENV{PATH}, NODE_OPTIONS => $ARGV[2], CORDON_JOB_FD => fileno($jr)); exec { $ARGV[0] } @ARGV[0, 1]; exit 127 }',
  '  close $jr;',
  '}',
  'syswrite($c, "W\\n");',
  'my (%env, @argv, $hold, $f);',
  'while (1) {',
  '  my ($t, $n) = unpack("aN", rd(5)); my $p = $n ? rd($n) : "";',
  '  if ($t eq "C") { print $f $p or exit 124; next }',
  '  if ($f) { close($f) or exit 124; undef $f }',
  '  last if $t eq "G";',
  '  if ($t eq "E") { my ($k, $v) = split(/=/, $p, 2); $env{$k} = $v }',
  '  elsif ($t eq "A") { @argv = split(/\\0/, $p, -1) }',
  '  elsif ($t eq "H") { $hold = 1 }',
  '  elsif ($t eq "D") { mkdir($p) or exit 124 }',
  '  elsif ($t eq "F") { open($f, ">", $p) or exit 124; binmode($f) }',
  '  else { exit 124 }',
  '}',
  'my $p;',
  // The booted Node fits only a job whose start-up settings it already has: the same NODE_OPTIONS, no other NODE_*/UV_* (NODE_PATH is re-read).
  'my $fits = !grep { /^(NODE_|UV_)/ && $_ ne "NODE_OPTIONS" && $_ ne "NODE_PATH" } keys %env;',
  '$fits &&= ($env{NODE_OPTIONS} // "") eq ($ARGV[2] // "");',
  'if ($pre && $fits && @argv == 2 && $argv[0] eq $ARGV[0]) {',
  '  my $job = join("\\0", $argv[1], map { "$_=$env{$_}" } sort keys %env);',
  '  while (length $job) { my $w = syswrite($jw, $job); defined $w or exit 125; substr($job, 0, $w) = "" }',
  '  close $jw; $p = $pre; syswrite($c, "R\\n");',
  '} else {',
  '  if ($pre) { kill("KILL", $pre); waitpid($pre, 0); close $jw }',
  '  %ENV = %env;',
  '  syswrite($c, "R\\n");',
  '  $p = fork;',
  '  defined $p or exit 125;',
  '  if (!$p) { close $c; exec { $argv[0] } @argv; print STDERR "cordon: cannot run $argv[0]: $!\\n"; exit 127 }',
  '}',
  'waitpid($p, 0);',
  'syswrite($c, "S $?\\n");',
  'sysread($c, my $done, 1) if $hold;',
].join(' ');

/** With `preboot`, the runner starts Node on the boot script at once, for a node job to come. */
export function runnerArgs(perlPath: string, preboot?: { node: string; bootScript: string; nodeOptions: string }): string[] {
  return [perlPath, '-e', RUNNER_SOURCE, ...(preboot ? [preboot.node, preboot.bootScript, preboot.nodeOptions] : [])];
}

const CHUNK_BYTES = 64 * 1024;

function record(type: string, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const header = Buffer.alloc(5);
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
  hold: boolean;
}

/** Encodes a job as the runner's records (files in chunks, so the runner's memory stays small). */
export function encodeJob(job: RunnerJob): Buffer[] {
  const records: Buffer[] = job.dirs.map((dir) => record('D', dir));
  for (const [path, content] of job.files) {
    records.push(record('F', path));
    for (let offset = 0; offset < content.byteLength; offset += CHUNK_BYTES) records.push(record('C', content.subarray(offset, offset + CHUNK_BYTES)));
  }
  for (const [key, value] of Object.entries(job.env)) records.push(record('E', `${key}=${value}`));
  records.push(record('A', job.argv.join('\0')));
  if (job.hold) records.push(record('H', ''));
  records.push(record('G', ''));
  return records;
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

/** Reads the runner's control lines: `W` waiting for its job, `R` program started, `S <status>` program exited. */
export class ControlChannel {
  waiting = false;
  started = false;
  status: ProgramStatus | undefined;
  #buffer = '';
  readonly #listeners: { waiting?: () => void; status?: () => void } = {};

  onWaiting(listener: () => void): void {
    if (this.waiting) listener();
    else this.#listeners.waiting = listener;
  }

  onStatus(listener: () => void): void {
    if (this.status) listener();
    else this.#listeners.status = listener;
  }

  push(chunk: Buffer): void {
    this.#buffer += chunk.toString('latin1');
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line === 'W') {
        this.waiting = true;
        this.#listeners.waiting?.();
      } else if (line === 'R') {
        this.started = true;
      } else if (line.startsWith('S ') && this.status === undefined) {
        this.status = decodeWaitStatus(Number(line.slice(2)));
        this.#listeners.status?.();
      }
    }
  }
}
