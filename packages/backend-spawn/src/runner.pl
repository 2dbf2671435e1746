# cordon's sandbox runner: the sandbox's first process, PID 1 of its PID namespace in the
# kernel isolation, a plain child of the host in the advisory isolation. Plain perl-base, no modules
# (each `use` costs a millisecond on the cold path): the host passes this architecture's
# syscall numbers and open(2) flags in CORDON_RUNNER. Started as `perl -e <this file>`
# behind a `#line 1 "runner.pl"` (runner.ts), so Perl's line numbers are this file's.
#
# The program runs as the same uid, so the runner first makes itself unreachable: not
# dumpable (no ptrace, pidfd_getfd, /proc/1/{mem,fd,environ} without capabilities, which
# nothing in the sandbox has), and as PID 1 it ignores signals from inside.
#
# Control socket (fd 3), records both ways: type (1 byte), payload length (u32 BE), payload.
#   host -> runner, the job:  D mkdir, F open a file, C append a chunk, E one environment
#     variable, A argv (NUL-separated), H collect files afterwards, G go.
#   runner -> host:  W waiting for the job, R <pid> program started, S <raw wait status>.
#   with H, after S:  the listing of the working directory: L <u64 size><path> per regular
#     file, N <kind><path> per other entry that is not a directory (kind: l link, p fifo,
#     s socket, c/b device), P <path> per directory too deep to enter, U <path> per directory
#     that could not be opened, X <path> per entry on another filesystem, T the listing was
#     cut short, M end; names in byte order, depth first;
#     then per host request Q <u64 max bytes><path>: O <u64 size>, B <bytes>..., Z, or V <why>.
# Paths are raw bytes joined by "/". The host's EOF ends the runner, which exits with the
# program's status (its code, or 128+n for signal n): the host checks that exit against S.
#
# Exit codes, which the host keys on: 125 the runner itself could not go on (its set-up, the
# runner socket, the collection walk), 124 the job could not be set up (a file or directory
# of the job, a record it does not know), 127 a program could not be started. Before `R`
# these mean the job never ran; the host then reports "the sandbox could not be set up",
# with the runner's stderr.

# Every failure says what failed and where, on stderr, then exits with its code. Before `R`
# the host puts that stderr in its error; after it, stderr is the program's own stream, which
# the user reads: so one short line, always prefixed, naming this file's line (the caller's)
# and never an environment value, a file's contents or a path of the request.
sub fail {
  my ($code, $what) = @_;
  my (undef, $file, $line) = caller;
  print STDERR 'cordon runner: ' . substr($what, 0, 200) . " at $file line $line\n";
  exit($code);
}

my %cfg = map { split(/=/, $_, 2) } split(/ /, $ENV{CORDON_RUNNER} // '');
for (qw(nr_prctl nr_prlimit64 o_directory o_nofollow o_nonblock nofile pid1 collect_depth collect_entries collect_listing_bytes)) {
  fail(125, "CORDON_RUNNER has no numeric $_") unless ($cfg{$_} // '') =~ /^\d+$/;
}
delete $ENV{CORDON_RUNNER};
my ($O_DIRECTORY, $O_NOFOLLOW, $O_NONBLOCK) = map { 0 + $cfg{$_} } qw(o_directory o_nofollow o_nonblock);
# PID 1 of a namespace of our own, by the host's word AND by $$: kill -1 below reaches every
# process the uid may signal, which outside a fresh PID namespace (as root: the machine) is
# everything. A flag that $$ contradicts is a broken set-up: refuse it.
my $pid1 = $cfg{pid1} eq '1';
fail(125, "told it is PID 1 of its namespace, but its pid is $$") if $pid1 && $$ != 1;

# Before anything else: PR_SET_DUMPABLE (4) to 0, then RLIMIT_NOFILE (7) soft and hard to what
# the host says (1024, less if its own hard limit is lower), inherited by everything started
# below (the pre-booted Node too). Fail closed.
syscall(0 + $cfg{nr_prctl}, 4, 0, 0, 0, 0) == 0 or fail(125, "prctl(PR_SET_DUMPABLE, 0) failed: $!");
fail(125, 'the open-file limit in CORDON_RUNNER is below 64') unless $cfg{nofile} >= 64;
my $nofile = pack('QQ', $cfg{nofile}, $cfg{nofile});
syscall(0 + $cfg{nr_prlimit64}, 0, 7, $nofile, 0) == 0 or fail(125, "prlimit64(RLIMIT_NOFILE) failed: $!");

# Descriptors the host process inherited without close-on-exec (from its own parent) must not
# reach the sandbox.
opendir(my $fds, '/proc/self/fd') or fail(125, "cannot list /proc/self/fd: $!");
my @stray = grep { /^\d+$/ && $_ > 3 } readdir($fds);
closedir($fds);
for (@stray) { if (open(my $h, '<&=', $_)) { close($h) } }
open(my $c, '+<&=', 3) or fail(125, "cannot open the runner socket (fd 3): $!");

# The working directory as it is now, before any code of the request runs: files are
# collected beneath this handle, wherever the program moves or links the directory.
sysopen(my $work, '.', $O_DIRECTORY) or fail(125, "cannot open the working directory: $!");
my $work_dev = (stat($work))[0];

# Sends one record to the host.
sub put {
  my ($type, $payload) = @_;
  my $record = pack('aN', $type, length($payload)) . $payload;
  while (length($record)) {
    my $written = syswrite($c, $record);
    defined($written) or fail(125, "cannot write to the runner socket: $!");
    substr($record, 0, $written) = '';
  }
}

# Reads exactly $n bytes; undef on EOF.
sub take {
  my ($n) = @_;
  my $buffer = '';
  while (length($buffer) < $n) {
    my $read = sysread($c, $buffer, $n - length($buffer), length($buffer));
    return undef unless $read;
  }
  return $buffer;
}

# One record (type, payload); empty at EOF.
sub record {
  my $header = take(5);
  return () unless defined($header);
  my ($type, $n) = unpack('aN', $header);
  my $payload = $n ? take($n) : '';
  defined($payload) or fail(125, 'the runner socket ended inside a record');
  return ($type, $payload);
}

# A record type as it may be shown: one byte, in hex.
sub type_of { return sprintf('0x%02x', ord($_[0])) }

# Pool: pre-boot Node (argv: node, boot script, NODE_OPTIONS, then NAME=value start-up
# environment, e.g. an allow-list's proxy settings) on a job pipe that only it holds.
my ($jr, $jw, $pre);
my %boot_env = map { split(/=/, $_, 2) } @ARGV[3 .. $#ARGV];
if (@ARGV) {
  { local $^F = 1023; pipe($jr, $jw) or fail(125, "cannot make the pre-booted Node's job pipe: $!") }
  $pre = fork;
  defined($pre) or fail(125, "cannot fork the pre-booted Node: $!");
  if (!$pre) {
    close($c); close($jw);
    %ENV = (PATH => $ENV{PATH}, %boot_env, NODE_OPTIONS => $ARGV[2], CORDON_JOB_FD => fileno($jr));
    exec { $ARGV[0] } @ARGV[0, 1];
    fail(127, "cannot start the pre-booted Node: $!");
  }
  close($jr);
}

# The job, record by record, until G: files are written as their chunks come.
put('W', '');
my (%env, @argv, $hold, $f);
while (1) {
  my ($t, $p) = record();
  defined($t) or fail(125, 'the runner socket ended before the job was complete');
  if ($t eq 'C') { print $f $p or fail(124, "cannot write a file of the job: $!"); next }
  if ($f) { close($f) or fail(124, "cannot close a file of the job: $!"); undef $f }
  last if $t eq 'G';
  if ($t eq 'E') { my ($k, $v) = split(/=/, $p, 2); $env{$k} = $v }
  elsif ($t eq 'A') { @argv = split(/\0/, $p, -1) }
  elsif ($t eq 'H') { $hold = 1 }
  elsif ($t eq 'D') { mkdir($p) or fail(124, "cannot make a directory of the job: $!") }
  elsif ($t eq 'F') { open($f, '>', $p) or fail(124, "cannot create a file of the job: $!"); binmode($f) }
  else { fail(124, 'a job record of unknown type ' . type_of($t)) }
}

my $program;
# The booted Node fits only a job whose start-up settings it already has: the same
# NODE_OPTIONS, every start-up variable it booted with at the same value, no other
# NODE_*/UV_* (NODE_PATH is re-read).
my $fits = !grep { /^(NODE_|UV_)/ && $_ ne 'NODE_OPTIONS' && $_ ne 'NODE_PATH' && !exists $boot_env{$_} } keys %env;
$fits &&= ($env{NODE_OPTIONS} // '') eq ($ARGV[2] // '');
$fits &&= !grep { !defined $env{$_} || $env{$_} ne $boot_env{$_} } keys %boot_env;
if ($pre && $fits && @argv == 2 && $argv[0] eq $ARGV[0]) {
  my $job = join("\0", $argv[1], map { "$_=$env{$_}" } sort keys %env);
  while (length($job)) {
    my $w = syswrite($jw, $job);
    defined($w) or fail(125, "cannot hand the job to the pre-booted Node: $!");
    substr($job, 0, $w) = '';
  }
  close($jw);
  $program = $pre;
} else {
  if ($pre) { kill('KILL', $pre); waitpid($pre, 0); close($jw) }
  %ENV = %env;
  $program = fork;
  defined($program) or fail(125, "cannot fork the program: $!");
  if (!$program) {
    close($c);
    # Advisory isolation: a process group of its own, which the runner (and the host) kill without
    # killing the runner.
    setpgrp(0, 0) unless $pid1;
    exec { $argv[0] } @argv;
    print STDERR "cordon: cannot run $argv[0]: $!\n";
    exit 127;
  }
  # In the parent too, so the group exists before `R` names it (the host checks it then).
  setpgrp($program, $program) unless $pid1;
}
put('R', $program);
waitpid($program, 0);
my $status = $?;

# Nothing the program started may outlive it, nor race the collection below. As PID 1 the
# runner kills the whole namespace and reaps until none is left; elsewhere (advisory) only
# the program's process group: kill -1 there would reach every process of this uid.
if ($pid1 && $$ == 1) {
  # Again after each reap: cheap, and nothing forked in between survives.
  while (1) { kill('KILL', -1); last if waitpid(-1, 0) <= 0 }
} else {
  kill('KILL', -$program) if $program > 1;
}
put('S', $status);
my $exit = ($status & 127) ? 128 + ($status & 127) : ($status >> 8);
exit($exit) unless $hold;

# The listing: every regular file beneath the held handle, walked by relative opens that
# never follow a link (O_NOFOLLOW at each step, lstat for each name), never leave the
# working directory's device, no deeper than 64 levels, at most 100,000 entries and 8 MiB
# of listed paths: core's MAX_COLLECT_DEPTH, MAX_COLLECT_ENTRIES, MAX_COLLECT_LISTING_BYTES,
# from CORDON_RUNNER, which the runtime image's collector (collect.cjs) walks by too, in the
# same order. Whatever this reads the program could read itself: same uid, same view.
my ($MAX_DEPTH, $MAX_ENTRIES, $MAX_LISTING_BYTES) = map { 0 + $cfg{$_} } qw(collect_depth collect_entries collect_listing_bytes);
my ($entries, $listed) = (0, 0);

# Makes the directory $name (relative to the current one, never through a link) current.
sub enter {
  my ($name) = @_;
  sysopen(my $dir, $name, $O_DIRECTORY | $O_NOFOLLOW) or return 0;
  my @st = stat($dir);
  return 0 unless @st && -d _ && $st[0] == $work_dev;
  return chdir($dir);
}

# Sends one record of the listing ($head, then the path), counting the path's bytes against the cap.
sub note {
  my ($type, $head, $path) = @_;
  put($type, $head . $path);
  $listed += length($path);
}

# Lists the current directory, reached as $prefix; false once a cap cut the listing short.
sub walk {
  my ($prefix, $depth) = @_;
  sysopen(my $here, '.', $O_DIRECTORY) or return 1;
  opendir(my $dh, '.') or return 1;
  # Byte order (no locale here), as collect.cjs: the caps past the listing are the host's.
  my @names = sort grep { $_ ne '.' && $_ ne '..' } readdir($dh);
  closedir($dh);
  for my $name (@names) {
    return 0 if ++$entries > $MAX_ENTRIES || $listed > $MAX_LISTING_BYTES;
    my $path = $prefix . $name;
    my @st = lstat($name);
    next unless @st;
    if ($st[0] != $work_dev) {
      note('X', '', $path);
    } elsif (-f _) {
      note('L', pack('Q>', $st[7]), $path);
    } elsif (-d _) {
      if ($depth >= $MAX_DEPTH) { note('P', '', $path); next }
      unless (enter($name)) { note('U', '', $path); next }
      my $complete = walk("$path/", $depth + 1);
      chdir($here) or fail(125, "cannot return to a directory of the listing: $!");
      return 0 unless $complete;
    } else {
      note('N', (-l _ ? 'l' : -p _ ? 'p' : -S _ ? 's' : -c _ ? 'c' : -b _ ? 'b' : '?'), $path);
    }
  }
  return 1;
}

chdir($work) or fail(125, "cannot enter the held working directory: $!");
put('T', '') unless walk('', 0);
put('M', '');

# One requested file, opened again from the held handle, component by component.
sub serve {
  my ($max, $path) = @_;
  my @parts = split(m{/}, $path, -1);
  return put('V', 'not a plain path') if !@parts || grep { $_ eq '' || $_ eq '.' || $_ eq '..' } @parts;
  my $name = pop(@parts);
  chdir($work) or fail(125, "cannot enter the held working directory: $!");
  for my $part (@parts) { return put('V', 'vanished') unless enter($part) }
  sysopen(my $file, $name, $O_NOFOLLOW | $O_NONBLOCK) or return put('V', lstat($name) ? 'could not be opened' : 'vanished');
  my @st = stat($file);
  return put('V', 'no longer a regular file') unless @st && -f _ && $st[0] == $work_dev;
  return put('V', 'grew after it was listed') if $st[7] > $max;
  put('O', pack('Q>', $st[7]));
  my $left = $st[7];
  while ($left > 0) {
    my $read = sysread($file, my $chunk, $left < 65536 ? $left : 65536);
    last unless $read;
    put('B', $chunk);
    $left -= $read;
  }
  put('Z', '');
}

# The host's requests until its EOF, then the program's status as the runner's own.
while (1) {
  my ($t, $p) = record();
  last unless defined($t);
  fail(124, 'a file request that is not one (type ' . type_of($t) . ')') unless $t eq 'Q' && length($p) > 8;
  serve(unpack('Q> a*', $p));
}
exit($exit);
