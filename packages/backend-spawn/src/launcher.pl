# cordon's own launcher: the kernel isolation's sandbox where bubblewrap is not installed,
# built from perl-base alone (unshare, mount and pivot_root through syscall(), no module).
# It reads the subset of bubblewrap's arguments that the spawn backend's plan uses and
# builds the same sandbox the same way (bubblewrap's bind-mount and pivot order):
#
#   1. read every data fd (seccomp filter, file contents) to EOF, resolve bind sources;
#   2. unshare user, mount, pid, ipc, uts, cgroup (and net) namespaces; map the sandbox id;
#   3. fork: the child is PID 1 of the new PID namespace; this process stays outside as
#      its monitor, reports the child's host pid as {"child-pid": N} on --json-status-fd,
#      and exits with the child's status (its code, or 128+n for signal n);
#   4. the child mounts a tmpfs on /tmp, pivots into it (the host's root at /oldroot),
#      builds the new root at /newroot from the operations, pivots again and detaches
#      the host's root; with --disable-userns it caps user namespaces at one more and
#      enters that last one; drops every capability, sets no-new-privileges, loads the
#      seccomp filter, and execs the command (the runner) as PID 1.
#
# The host passes this architecture's syscall numbers in CORDON_LAUNCHER and removes
# nothing else: the command gets the environment as this process got it, less that
# variable. Any failure prints one line naming what failed and exits 1 before the
# command runs; the host reports it as "the sandbox could not be set up".
# No `use strict` or any module: each costs a millisecond on the cold path (as in runner.pl).

sub fail {
  my (undef, $file, $line) = caller;
  print STDERR 'cordon launcher: ' . substr($_[0], 0, 300) . " at $file line $line\n";
  exit(1);
}

my %nr = map { split(/=/, $_, 2) } split(/ /, $ENV{CORDON_LAUNCHER} // '');
for (qw(unshare mount umount2 pivot_root sethostname prctl capset setsid)) {
  fail("CORDON_LAUNCHER has no number for $_") unless ($nr{$_} // '') =~ /^\d+$/;
}
delete $ENV{CORDON_LAUNCHER};

# From the kernel's uapi headers (the same on every architecture).
my %CLONE = (user => 0x10000000, mount => 0x00020000, pid => 0x20000000, ipc => 0x08000000,
  uts => 0x04000000, cgroup => 0x02000000, net => 0x40000000);
my ($MS_RDONLY, $MS_NOSUID, $MS_NODEV, $MS_NOEXEC, $MS_REMOUNT, $MS_NOATIME, $MS_NODIRATIME, $MS_BIND,
  $MS_REC, $MS_PRIVATE, $MS_RELATIME, $MS_STRICTATIME) =
  (1, 2, 4, 8, 32, 1024, 2048, 4096, 16384, 1 << 18, 1 << 21, 1 << 24);
my $MNT_DETACH = 2;
my ($PR_SET_PDEATHSIG, $PR_SET_SECCOMP, $PR_CAPBSET_DROP, $PR_SET_NO_NEW_PRIVS, $PR_CAP_AMBIENT) = (1, 22, 24, 38, 47);

# -- the arguments: flags, then operations in order, then `--` and the command.
my (%unshare, %opt, @ops, $size, $perms);
while (@ARGV) {
  my $a = shift @ARGV;
  last if $a eq '--';
  if ($a =~ /^--unshare-(user|pid|ipc|uts|net)$/) { $unshare{$1} = 1 }
  elsif ($a eq '--unshare-cgroup-try') { $unshare{cgroup} = 'try' }
  elsif ($a eq '--unshare-all') { $unshare{$_} = 1 for qw(user pid ipc uts net); $unshare{cgroup} = 'try' }
  elsif ($a =~ /^--(disable-userns|as-pid-1|die-with-parent|new-session)$/) { $opt{$1} = 1 }
  elsif ($a =~ /^--(uid|gid|hostname|chdir|json-status-fd|seccomp)$/) { $opt{$1} = shift @ARGV }
  elsif ($a eq '--cap-drop') { fail("--cap-drop supports only ALL") unless shift(@ARGV) eq 'ALL' }
  elsif ($a eq '--size') { $size = shift @ARGV }
  elsif ($a eq '--perms') { $perms = oct(shift @ARGV) }
  elsif ($a =~ /^--(ro-bind|ro-bind-try|symlink|ro-bind-data|file)$/) {
    my $op = { op => $1, from => shift @ARGV, to => shift @ARGV };
    if ($1 eq 'file') { $op->{perms} = $perms // 0666; undef $perms }
    push @ops, $op;
  }
  elsif ($a =~ /^--(proc|dev|tmpfs|remount-ro|dir)$/) {
    push @ops, { op => $1, to => shift @ARGV, size => ($1 eq 'tmpfs' ? $size : undef) };
    undef $size if $1 eq 'tmpfs';
  }
  else { fail("unknown argument $a") }
}
my @command = @ARGV;
fail('no command after --') unless @command;
fail('--as-pid-1 needs --unshare-pid') if $opt{'as-pid-1'} && !$unshare{pid};
fail('the launcher needs --unshare-user') unless $unshare{user};
for (qw(uid gid)) { fail("--$_ is not a number") if defined($opt{$_}) && $opt{$_} !~ /^\d+$/ }

# Data fds are read whole now: the host writes each and closes it at spawn.
sub slurp_fd {
  my ($fd) = @_;
  fail("$fd is not a descriptor number") unless $fd =~ /^\d+$/;
  open(my $h, '<&=', $fd) or fail("cannot open data fd $fd: $!");
  binmode($h);
  local $/;
  my $data = <$h>;
  close($h);
  return $data // '';
}
my $seccomp = defined($opt{seccomp}) ? slurp_fd($opt{seccomp}) : undef;
fail('the seccomp filter is not whole instructions') if defined($seccomp) && (length($seccomp) % 8 || !length($seccomp));
for my $op (@ops) { $op->{data} = slurp_fd($op->{from}) if $op->{op} eq 'ro-bind-data' || $op->{op} eq 'file' }

# A host path with every symlink resolved against the host's root, as the host sees it:
# after the first pivot an absolute link would resolve against the wrong root.
sub resolve {
  my ($path) = @_;
  my @todo = grep { length } split(m{/}, $path);
  my @done;
  my $links = 0;
  while (@todo) {
    my $part = shift @todo;
    next if $part eq '.';
    if ($part eq '..') { pop @done; next }
    my $at = '/' . join('/', @done, $part);
    my $target = readlink($at);
    if (defined($target)) {
      return undef if ++$links > 40;
      @done = () if $target =~ m{^/};
      unshift @todo, grep { length } split(m{/}, $target);
    } else {
      return undef unless -e $at;
      push @done, $part;
    }
  }
  return '/' . join('/', @done);
}
for my $op (@ops) {
  next unless $op->{op} =~ /^ro-bind(-try)?$/;
  my $source = resolve($op->{from});
  if (!defined($source)) {
    fail("cannot find bind source $op->{from}") if $op->{op} eq 'ro-bind';
    $op->{skip} = 1;
    next;
  }
  $op->{source} = $source;
  $op->{dir} = -d $source;
}

sub sys {
  my ($name, @args) = @_;
  return syscall(0 + $nr{$name}, @args) == 0;
}

if ($opt{'die-with-parent'}) {
  sys('prctl', $PR_SET_PDEATHSIG, 9, 0, 0, 0) or fail("prctl(PR_SET_PDEATHSIG) failed: $!");
  exit(1) if getppid() == 1;
}

# -- the namespaces and the id map (before the fork, so the monitor shares them but not the PID namespace).
my ($outer_uid, $outer_gid) = ($>, (split(/ /, $)))[0]);
my $flags = 0;
$flags |= $CLONE{$_} for grep { $unshare{$_} } qw(user pid ipc uts net cgroup);
$flags |= $CLONE{mount};
if (!sys('unshare', $flags)) {
  my $error = "$!";
  # --unshare-cgroup-try: a kernel without cgroup namespaces still gets the rest.
  fail("unshare failed: $error") unless $unshare{cgroup} eq 'try' && sys('unshare', $flags & ~$CLONE{cgroup});
}
sub write_file {
  my ($path, $content) = @_;
  open(my $h, '>', $path) or fail("cannot open $path: $!");
  print $h $content or fail("cannot write $path: $!");
  close($h) or fail("cannot write $path: $!");
}
my ($inside_uid, $inside_gid) = ($opt{uid} // $outer_uid, $opt{gid} // $outer_gid);
write_file('/proc/self/setgroups', "deny\n");
write_file('/proc/self/uid_map', "$inside_uid $outer_uid 1\n");
write_file('/proc/self/gid_map', "$inside_gid $outer_gid 1\n");

# The monitor holds this pipe's write end: the child sees EOF if the monitor is already gone.
pipe(my $alive_r, my $alive_w) or fail("pipe failed: $!");
my $child = fork;
defined($child) or fail("fork failed: $!");
if ($child) {
  close($alive_r);
  if (defined($opt{'json-status-fd'})) {
    open(my $s, '>&=', $opt{'json-status-fd'}) or fail("cannot open the status fd: $!");
    syswrite($s, qq({"child-pid": $child}\n));
    close($s);
  }
  # Only stderr stays: the sandbox's stdio and runner socket are the child's alone.
  for (0, 1, 3) { close_fd($_) }
  waitpid($child, 0) == $child or fail("waitpid failed: $!");
  my $status = $?;
  exit($status & 127 ? 128 + ($status & 127) : $status >> 8);
}
sub close_fd { if (open(my $h, '+<&=', $_[0])) { close($h) } }
close($alive_w);

# -- the child: PID 1 of the new namespace.
if ($opt{'die-with-parent'}) {
  sys('prctl', $PR_SET_PDEATHSIG, 9, 0, 0, 0) or fail("prctl(PR_SET_PDEATHSIG) failed: $!");
  my $ready = '';
  vec($ready, fileno($alive_r), 1) = 1;
  exit(1) if select($ready, undef, undef, 0) > 0;
}
close($alive_r);
# The data fds were read and closed before the fork; the status fd is the monitor's. The
# command's runner closes every other descriptor above 3 itself.
close_fd($opt{'json-status-fd'}) if defined($opt{'json-status-fd'});

sub mount_ {
  my ($source, $target, $type, $mflags, $data) = @_;
  sys('mount', $source // 0, $target, $type // 0, $mflags, $data // 0)
    or fail("mount of " . ($source // 'none') . " on $target failed: $!");
}
sub mkpath {
  my ($path, $mode) = @_;
  my $at = '';
  for (grep { length } split(m{/}, $path)) {
    $at .= "/$_";
    next if -d $at;
    mkdir($at, $mode // 0755) or -d $at or fail("cannot make directory $at: $!");
  }
}
sub parent_of { my ($p) = @_; $p =~ s{/[^/]*$}{}; return $p }
sub touch {
  my ($path) = @_;
  mkpath(parent_of($path));
  return if -e $path;
  open(my $h, '>', $path) or fail("cannot create $path: $!");
  close($h);
}

# Per-mount flags that a remount must keep (the kernel refuses to clear locked ones).
my %KEEP = (nosuid => $MS_NOSUID, nodev => $MS_NODEV, noexec => $MS_NOEXEC, noatime => $MS_NOATIME,
  nodiratime => $MS_NODIRATIME, relatime => $MS_RELATIME);
sub mounts_at {
  my ($path, $with_submounts) = @_;
  open(my $h, '<', '/oldroot/proc/self/mountinfo') or fail("cannot read mountinfo: $!");
  my %found;
  while (my $line = <$h>) {
    my @f = split(/ /, $line);
    (my $point = $f[4]) =~ s/\\([0-7]{3})/chr(oct($1))/ge;
    next unless $point eq $path || ($with_submounts && index($point, "$path/") == 0);
    my $keep = 0;
    my $atime = 0;
    for (split(/,/, $f[5])) {
      $keep |= $KEEP{$_} // 0;
      $atime = 1 if $_ eq 'noatime' || $_ eq 'relatime';
    }
    $found{$point} = $keep | ($atime ? 0 : $MS_STRICTATIME);
  }
  close($h);
  return %found;
}
sub remount {
  my ($path, $with_submounts, $add) = @_;
  my %found = mounts_at($path, $with_submounts);
  fail("no mount at $path to remount") unless %found;
  for my $point (sort keys %found) {
    mount_(undef, $point, undef, $MS_REMOUNT | $MS_BIND | $add | $found{$point}, undef);
  }
}
# As bubblewrap's --ro-bind: recursive, and read-only, nosuid and nodev all the way down.
sub bind_ro {
  my ($source, $target) = @_;
  mount_($source, $target, undef, $MS_BIND | $MS_REC, undef);
  remount($target, 1, $MS_RDONLY | $MS_NOSUID | $MS_NODEV);
}

# The first pivot: the host's root moves to /oldroot under a fresh tmpfs, so bind sources
# are read from there and nothing of the new root shadows a host path still to be bound.
mount_(undef, '/', undef, $MS_REC | $MS_PRIVATE, undef);
mount_('tmpfs', '/tmp', 'tmpfs', $MS_NODEV | $MS_NOSUID, 'mode=0755,size=1m');
chdir('/tmp') or fail("chdir /tmp: $!");
mkdir('newroot', 0755) && mkdir('oldroot', 0755) or fail("cannot make the pivot directories: $!");
sys('pivot_root', '/tmp', '/tmp/oldroot') or fail("pivot_root failed: $!");
chdir('/') or fail("chdir /: $!");
mount_('newroot', '/newroot', undef, $MS_BIND | $MS_REC, undef);

my $data_files = 0;
for my $op (@ops) {
  next if $op->{skip};
  my $to = '/newroot' . ($op->{to} eq '/' ? '' : $op->{to});
  my $kind = $op->{op};
  if ($kind eq 'ro-bind' || $kind eq 'ro-bind-try') {
    $op->{dir} ? mkpath($to) : touch($to);
    bind_ro("/oldroot$op->{source}", $to);
  } elsif ($kind eq 'symlink') {
    mkpath(parent_of($to));
    symlink($op->{from}, $to) or fail("cannot link $to: $!");
  } elsif ($kind eq 'dir') {
    mkpath($to);
  } elsif ($kind eq 'tmpfs') {
    mkpath($to);
    mount_('tmpfs', $to, 'tmpfs', $MS_NOSUID | $MS_NODEV, 'mode=0755' . (defined($op->{size}) ? ",size=$op->{size}" : ''));
  } elsif ($kind eq 'remount-ro') {
    remount($to, 0, $MS_RDONLY);
  } elsif ($kind eq 'file') {
    mkpath(parent_of($to));
    write_file($to, $op->{data});
    chmod($op->{perms}, $to) or fail("chmod $to: $!");
  } elsif ($kind eq 'ro-bind-data') {
    my $file = '/data-' . $data_files++;
    write_file($file, $op->{data});
    chmod(0444, $file);
    touch($to);
    bind_ro($file, $to);
  } elsif ($kind eq 'proc') {
    mkpath($to);
    # Its /proc/sys and sysrq-trigger belong to the host's root, which no uid inside maps to: not
    # writable, so (as bubblewrap, which covers them only where writable) nothing is bound over them.
    mount_('proc', $to, 'proc', $MS_NOSUID | $MS_NODEV | $MS_NOEXEC, undef);
  } elsif ($kind eq 'dev') {
    mkpath($to);
    mount_('tmpfs', $to, 'tmpfs', $MS_NOSUID | $MS_NODEV, 'mode=0755');
    for (qw(null zero full random urandom tty)) {
      touch("$to/$_");
      mount_("/oldroot/dev/$_", "$to/$_", undef, $MS_BIND, undef);
      remount("$to/$_", 0, $MS_NOSUID);
    }
    symlink("/proc/self/fd/$_->[1]", "$to/$_->[0]") for [stdin => 0], [stdout => 1], [stderr => 2];
    symlink('/proc/self/fd', "$to/fd");
    symlink('/proc/kcore', "$to/core");
    symlink('pts/ptmx', "$to/ptmx");
    mkdir("$to/$_", 0755) for qw(shm pts);
  }
}

if ($unshare{uts} && defined($opt{hostname})) {
  sys('sethostname', $opt{hostname}, length($opt{hostname})) or fail("sethostname failed: $!");
}
# A new network namespace starts with loopback down: bring it up (SIOCSIFFLAGS, IFF_UP|IFF_LOOPBACK|IFF_RUNNING).
if ($unshare{net}) {
  socket(my $s, 2, 2, 0) or fail("socket failed: $!");
  my $ifreq = pack('a16 s x22', 'lo', 0x1 | 0x8 | 0x40);
  ioctl($s, 0x8914, $ifreq) or fail("cannot bring up loopback: $!");
  close($s);
}
my $cap_last = do { open(my $h, '<', '/oldroot/proc/sys/kernel/cap_last_cap') or fail("cap_last_cap: $!"); 0 + <$h> };
if ($opt{'disable-userns'}) {
  write_file('/oldroot/proc/sys/user/max_user_namespaces', "1\n");
}

# The second pivot: into the new root, the host's root detached from under it.
chdir('/newroot') or fail("chdir /newroot: $!");
sys('pivot_root', '.', '.') or fail("pivot_root into the new root failed: $!");
sys('umount2', '.', $MNT_DETACH) or fail("cannot detach the host's root: $!");
chdir('/') or fail("chdir /: $!");

if ($opt{'disable-userns'}) {
  # The last user namespace this tree may have; its mounts are locked from inside it.
  sys('unshare', $CLONE{user}) or fail("unshare of the last user namespace failed: $!");
  write_file('/proc/self/uid_map', "$inside_uid $inside_uid 1\n");
  write_file('/proc/self/gid_map', "$inside_gid $inside_gid 1\n");
  fail('creating user namespaces was not disabled') if sys('unshare', $CLONE{user});
}
if (defined($opt{chdir})) { chdir($opt{chdir}) or fail("chdir $opt{chdir}: $!") }
if ($opt{'new-session'}) { syscall(0 + $nr{setsid}) >= 0 or fail("setsid failed: $!") }

# No capability survives, in any set, and none can come back through exec.
for my $cap (0 .. $cap_last) { sys('prctl', $PR_CAPBSET_DROP, $cap, 0, 0, 0) or fail("cannot drop capability $cap: $!") }
sys('prctl', $PR_CAP_AMBIENT, 4, 0, 0, 0) or fail("cannot clear ambient capabilities: $!");
sys('capset', pack('LL', 0x20080522, 0), pack('L6', 0, 0, 0, 0, 0, 0)) or fail("capset failed: $!");
sys('prctl', $PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or fail("prctl(PR_SET_NO_NEW_PRIVS) failed: $!");
if (defined($seccomp)) {
  my $program = pack('S x![P] P', length($seccomp) / 8, $seccomp);
  sys('prctl', $PR_SET_SECCOMP, 2, $program, 0, 0) or fail("cannot load the seccomp filter: $!");
}
exec { $command[0] } @command;
fail("cannot start $command[0]: $!");
