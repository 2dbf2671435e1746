# cordon egress forwarder, the sandbox's half of an allow-list. On spawn it runs in one
# sandbox's network namespace but in the host's pid and mount namespaces, as the
# sandbox's uid with no privileges: the sandbox cannot see or signal it, and it is the
# only thing in the namespace that can reach the host's egress broker (a unix socket
# the sandbox has no path to). On docker and k8s (scope "proxy") the image's supervisor
# starts it as the program's uid in a sandbox without any network but loopback; the
# socket is the execution's session on a volume the broker shares, so the program
# reaching it itself gains nothing the forwarder would not relay. It decides nothing: every
# TCP connection and DNS query is relayed to the broker, with one header line saying how
# it arrived; the broker judges it. The namespace's setup (egress-netns.ts) gives it
#   - every TCP connection to a non-loopback address (iptables DNAT to port 15001;
#     SO_ORIGINAL_DST names where it was going): kind "captured";
#   - 127.0.0.1:3128, the HTTP proxy of HTTP(S)_PROXY: kind "http-proxy";
#   - 127.0.0.1:1080, the SOCKS5 proxy of ALL_PROXY: kind "socks";
#   - DNS on port 53, UDP and TCP, on 127.0.0.1 (resolv.conf) and wherever queries to any
#     other resolver are sent by DNAT: kind "dns", each UDP datagram framed as DNS over TCP.
# It connects to the broker once per inbound connection or datagram, never ahead: a pool
# member's forwarder runs before any broker listens on its socket (the execution that
# takes the member binds it), and a connect that fails ends that one connection only.
# Usage: perl egress-forwarder.pl BROKER_SOCKET_PATH MARKER [SCOPE]. SCOPE "dns" (network
# none: the namespace is not routed, nothing is captured) binds only the DNS listeners, so
# the names code tries to resolve are recorded and answered with nothing. SCOPE "proxy"
# (nothing can be captured: no netfilter) binds the proxies and DNS but no capture port;
# its IPv6 DNS listeners are skipped where the sandbox has no IPv6 loopback. Prints
# "ready" once every listener is bound; exits when its stdin (the host, or the
# supervisor) closes.
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 AF_UNIX SOCK_STREAM SOCK_DGRAM SOL_SOCKET SO_REUSEADDR SO_LINGER IPPROTO_IPV6
  IPV6_V6ONLY inet_pton inet_ntop pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in
  unpack_sockaddr_in6 sockaddr_family pack_sockaddr_un);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Errno qw(EAGAIN EWOULDBLOCK EINTR EINPROGRESS);

# A write to a connection the broker or the program already closed is an error to handle, not the end of the forwarder.
$SIG{PIPE} = 'IGNORE';

my ($broker, $marker, $scope) = @ARGV;
$scope //= 'all';
die "usage: egress-forwarder.pl BROKER_SOCKET MARKER [all|dns|proxy]\n"
  unless defined $broker && defined $marker && $scope =~ /^(all|dns|proxy)$/;
$0 = "cordon-egress-forwarder $marker" . ($scope eq 'all' ? '' : " $scope");

use constant {
  CAPTURE_PORT => 15001,
  PROXY_PORT => 3128,
  SOCKS_PORT => 1080,
  DNS_PORT => 53,
  SO_ORIGINAL_DST => 80,
  SOL_IP => 0,
  CHUNK => 65536,
  # Bytes queued toward one side before reading from the other stops (backpressure).
  HIGH_WATER => 262144,
  MAX_PAIRS => 512,
  MAX_DNS_PENDING => 256,
  DNS_TIMEOUT_S => 10,
};

sub nonblocking { my $fh = shift; my $flags = fcntl($fh, F_GETFL, 0); fcntl($fh, F_SETFL, $flags | O_NONBLOCK); }

sub listener {
  my ($family, $type, $address, $port) = @_;
  socket(my $s, $family, $type, 0) or die "socket: $!\n";
  setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
  setsockopt($s, IPPROTO_IPV6, IPV6_V6ONLY, 1) if $family == AF_INET6;
  my $sockaddr = $family == AF_INET6
    ? pack_sockaddr_in6($port, inet_pton(AF_INET6, $address))
    : pack_sockaddr_in($port, inet_pton(AF_INET, $address));
  bind($s, $sockaddr) or die "bind $address:$port: $!\n";
  listen($s, 128) or die "listen $address:$port: $!\n" if $type == SOCK_STREAM;
  nonblocking($s);
  return $s;
}

# Listening sockets: fileno => [socket, kind, type].
my %listeners;
sub add_listener { my ($s, $kind, $type) = @_; $listeners{fileno $s} = [$s, $kind, $type]; }
if ($scope eq 'all') {
  add_listener(listener(AF_INET, SOCK_STREAM, '0.0.0.0', CAPTURE_PORT), 'captured', 'tcp');
  add_listener(listener(AF_INET6, SOCK_STREAM, '::', CAPTURE_PORT), 'captured', 'tcp');
}
if ($scope ne 'dns') {
  add_listener(listener(AF_INET, SOCK_STREAM, '127.0.0.1', PROXY_PORT), 'http-proxy', 'tcp');
  add_listener(listener(AF_INET, SOCK_STREAM, '127.0.0.1', SOCKS_PORT), 'socks', 'tcp');
}
add_listener(listener(AF_INET, SOCK_STREAM, '0.0.0.0', DNS_PORT), 'dns', 'tcp');
add_listener(listener(AF_INET, SOCK_DGRAM, '0.0.0.0', DNS_PORT), 'dns', 'udp');
# The resolver named in resolv.conf is 127.0.0.1; [::1]:53 is bound too where it exists.
if ($scope eq 'proxy') {
  for my $type (SOCK_STREAM, SOCK_DGRAM) {
    my $s = eval { listener(AF_INET6, $type, '::', DNS_PORT) };
    add_listener($s, 'dns', $type == SOCK_STREAM ? 'tcp' : 'udp') if $s;
  }
} else {
  add_listener(listener(AF_INET6, SOCK_STREAM, '::', DNS_PORT), 'dns', 'tcp');
  add_listener(listener(AF_INET6, SOCK_DGRAM, '::', DNS_PORT), 'dns', 'udp');
}

$| = 1;
print "ready\n";

# Relayed streams: fileno => { fh, peer (fileno), out (bytes queued to write to fh),
# read_eof (fh sent EOF), shut (fh's write side is shut: the peer's EOF was passed on) }.
my %streams;
# DNS datagrams waiting for the broker's answer: fileno of the broker connection => { udp, client, in, started }.
my %dns;

sub header {
  my (%fields) = @_;
  my @pairs = map { my $v = $fields{$_}; $v =~ /^\d+$/ ? qq("$_":$v) : qq("$_":"$v") } sort keys %fields;
  return '{' . join(',', '"v":1', @pairs) . "}\n";
}

sub broker_connection {
  socket(my $u, AF_UNIX, SOCK_STREAM, 0) or return undef;
  connect($u, pack_sockaddr_un($broker)) or return undef;
  nonblocking($u);
  return $u;
}

sub original_destination {
  my ($fh) = @_;
  my $local = getsockname($fh) // return;
  if (sockaddr_family($local) == AF_INET6) {
    my $raw = getsockopt($fh, 41, SO_ORIGINAL_DST) // return;
    my $sockaddr = substr($raw, 0, 28);    # a copy: Socket rejects substr's lvalue
    my ($port, $address) = unpack_sockaddr_in6($sockaddr);
    return (inet_ntop(AF_INET6, $address), $port);
  }
  my $raw = getsockopt($fh, SOL_IP, SO_ORIGINAL_DST) // return;
  my $sockaddr = substr($raw, 0, 16);
  my ($port, $address) = unpack_sockaddr_in($sockaddr);
  return (inet_ntop(AF_INET, $address), $port);
}

# An error on either side ends both at once.
sub close_pair {
  my ($fd) = @_;
  my $stream = delete $streams{$fd} or return;
  close($stream->{fh});
  my $peer = delete $streams{$stream->{peer}} or return;
  close($peer->{fh});
}

# Half-close passes through: once a side's EOF and everything queued toward the other
# side are delivered, that side's write half is shut; both ended means the pair is done.
sub pass_eof {
  my ($fd) = @_;
  my $stream = $streams{$fd} or return;
  my $peer = $streams{$stream->{peer}} or return close_pair($fd);
  if ($peer->{read_eof} && $stream->{out} eq '' && !$stream->{shut}) {
    shutdown($stream->{fh}, 1);
    $stream->{shut} = 1;
  }
  close_pair($fd) if $stream->{shut} && $peer->{shut};
}

sub accept_stream {
  my ($listener, $kind) = @_;
  accept(my $client, $listener) or return;
  if (keys(%streams) / 2 >= MAX_PAIRS) { close($client); return; }
  my %fields = (kind => $kind);
  if ($kind eq 'captured') {
    my ($address, $port) = original_destination($client);
    unless (defined $address) { close($client); return; }
    %fields = (%fields, address => $address, port => $port);
  }
  my $upstream = broker_connection();
  # No broker listening (or none any more): the program sees a refused connection (RST), as for a denial.
  unless ($upstream) { setsockopt($client, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)); close($client); return; }
  nonblocking($client);
  $streams{fileno $client} =
    { fh => $client, peer => fileno $upstream, out => '', read_eof => 0, shut => 0, client => 1, answered => 0 };
  $streams{fileno $upstream} =
    { fh => $upstream, peer => fileno $client, out => header(%fields), read_eof => 0, shut => 0 };
}

sub receive_datagram {
  my ($udp) = @_;
  my $client = recv($udp, my $query, 4096, 0);
  return unless defined $client && length $query >= 12;
  return if keys(%dns) >= MAX_DNS_PENDING;
  my $upstream = broker_connection() or return;
  $dns{fileno $upstream} = {
    fh => $upstream, udp => $udp, client => $client, in => '', started => time,
    out => header(kind => 'dns') . pack('n', length $query) . $query,
  };
}

sub dns_readable {
  my ($fd) = @_;
  my $pending = $dns{$fd};
  my $n = sysread($pending->{fh}, my $chunk, CHUNK);
  if (!defined $n) { return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR; }
  if (!$n) { close(delete($dns{$fd})->{fh}); return; }
  $pending->{in} .= $chunk;
  if (length $pending->{in} >= 2) {
    my $length = unpack('n', $pending->{in});
    if (length $pending->{in} >= 2 + $length) {
      send($pending->{udp}, substr($pending->{in}, 2, $length), 0, $pending->{client});
      close(delete($dns{$fd})->{fh});
    }
  }
}

sub flush {
  my ($record) = @_;
  my $n = syswrite($record->{fh}, $record->{out});
  if (!defined $n) { return 1 if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR; return 0; }
  substr($record->{out}, 0, $n) = '';
  return 1;
}

nonblocking(\*STDIN);
while (1) {
  my ($rin, $win) = ('', '');
  vec($rin, fileno(STDIN), 1) = 1;
  vec($rin, $_, 1) = 1 for keys %listeners;
  for my $fd (keys %streams) {
    my $stream = $streams{$fd};
    my $peer = $streams{$stream->{peer}};
    vec($rin, $fd, 1) = 1 if $peer && !$stream->{read_eof} && length($peer->{out}) < HIGH_WATER;
    vec($win, $fd, 1) = 1 if $stream->{out} ne '';
  }
  for my $fd (keys %dns) {
    vec($rin, $fd, 1) = 1;
    vec($win, $fd, 1) = 1 if $dns{$fd}->{out} ne '';
  }
  my $ready = select(my $rout = $rin, my $wout = $win, undef, 1);
  if ($ready < 0) { next if $! == EINTR; die "select: $!\n"; }
  for my $fd (keys %dns) {
    if (time - $dns{$fd}->{started} > DNS_TIMEOUT_S) { close(delete($dns{$fd})->{fh}); }
  }
  next if $ready == 0;
  if (vec($rout, fileno(STDIN), 1)) {
    my $n = sysread(STDIN, my $ignored, 512);
    exit 0 if defined $n && $n == 0;
  }
  for my $fd (keys %listeners) {
    next unless vec($rout, $fd, 1);
    my ($s, $kind, $type) = @{ $listeners{$fd} };
    # One odd connection must not end the forwarder (and with it the sandbox's network).
    eval { if ($type eq 'udp') { receive_datagram($s) } else { accept_stream($s, $kind) } 1 }
      or print STDERR "cordon egress forwarder: $@";
  }
  for my $fd (keys %dns) {
    my $pending = $dns{$fd} or next;
    if (vec($wout, $fd, 1) && !flush($pending)) { close(delete($dns{$fd})->{fh}); next; }
    dns_readable($fd) if vec($rout, $fd, 1);
  }
  for my $fd (keys %streams) {
    my $stream = $streams{$fd} or next;
    if (vec($wout, $fd, 1)) {
      unless (flush($stream)) { close_pair($fd); next; }
      pass_eof($fd);
      $stream = $streams{$fd} or next;
    }
    next unless vec($rout, $fd, 1);
    my $peer = $streams{$stream->{peer}} or do { close_pair($fd); next; };
    my $n = sysread($stream->{fh}, my $chunk, CHUNK);
    if (!defined $n) { next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR; close_pair($fd); next; }
    if ($n == 0) {
      $stream->{read_eof} = 1;
      # The broker closed without a byte for the program: a denial. The program sees a
      # refused connection (RST), not an empty answer.
      if ($peer->{client} && !$peer->{answered} && $peer->{out} eq '') {
        setsockopt($peer->{fh}, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        close_pair($fd);
        next;
      }
      pass_eof($stream->{peer});
      next;
    }
    $peer->{answered} = 1 if $peer->{client};
    $peer->{out} .= $chunk;
  }
}
