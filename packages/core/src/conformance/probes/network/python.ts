import { accessSync, constants } from 'node:fs';
import type { CanaryEndpoints } from '../../types.js';
import { needsSystemResolver } from './node.js';
import { needsHostLoopback, needsIPv6, type NetworkProbe } from './probe.js';
import { pythonProbe } from '../prelude.js';

const python = (body: string) => (endpoints: CanaryEndpoints, nonce: string) => pythonProbe(endpoints, nonce, body);

/** Sockets that hand out the host: whoever connects can start a privileged container. */
const DAEMON_SOCKETS = [
  '/var/run/docker.sock',
  '/run/docker.sock',
  '/run/containerd/containerd.sock',
  '/run/podman/podman.sock',
  '/run/crio/crio.sock',
];

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch (error) {
    debug('conformance.probe', () => `${path} not writable`, error);
    return false;
  }
}

// A DNS query for <nonce>.<zone>, built by hand so no resolver library is involved.
const DNS_QUERY = `
import struct, random
def dns_query(name):
    qname = b''.join(bytes([len(label)]) + label.encode() for label in name.split('.')) + b'\\0'
    return struct.pack('>HHHHHH', random.randint(0, 65535), 0x0100, 1, 0, 0, 0) + qname + struct.pack('>HH', 1, 1)
`;
import { debug } from '../../../backend/debug.js';

// An ICMP echo request carrying the nonce, with its checksum, for raw and datagram ICMP sockets.
const ICMP_ECHO = `import struct
def checksum(data):
    if len(data) % 2:
        data += b'\\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff
def echo(kind):
    payload = ('icmp ' + NONCE).encode()
    header = struct.pack('!BBHHH', 8, 0, 0, 0x4321, 1)
    packet = struct.pack('!BBHHH', 8, 0, checksum(header + payload), 0x4321, 1) + payload
    try:
        s = socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
    except PermissionError:
        if kind == socket.SOCK_RAW:
            print('CORDON-UNSUPPORTED raw sockets need CAP_NET_RAW, which this sandbox lacks whatever its network (socket() EPERM)', flush=True)
        if kind == socket.SOCK_DGRAM:
            # The kernel offers unprivileged ICMP only to groups in this range; outside it the vector does not exist.
            with open('/proc/sys/net/ipv4/ping_group_range') as f:
                print('CORDON-UNSUPPORTED unprivileged ICMP sockets are off for gid %d (net.ipv4.ping_group_range %s)' % (os.getgid(), ' '.join(f.read().split())), flush=True)
        raise
    with s:
        s.sendto(packet, (E['tcp']['host'], 0))`;

/** Python probes: another runtime's sockets, urllib, hand-made DNS, ctypes, and the namespace/ptrace escapes. */
export const PYTHON_NETWORK_PROBES: readonly NetworkProbe[] = [
  {
    id: 'P1:tcp',
    group: 'P1',
    title: 'socket.create_connection (IPv4)',
    language: 'python',
    code: python(
      `step('socket.create_connection', lambda: send_tcp(E['tcp']['host'], E['tcp']['port'], 'python-tcp ' + NONCE))`,
    ),
  },
  {
    id: 'P1:udp',
    group: 'P1',
    title: 'UDP sendto',
    language: 'python',
    code: python(`def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(('python-udp ' + NONCE).encode(), (E['udp']['host'], E['udp']['port']))
step('sendto', udp)`),
  },
  {
    id: 'P1:urllib',
    group: 'P1',
    title: 'urllib.request.urlopen',
    language: 'python',
    code: python(`import urllib.request
def get():
    with urllib.request.urlopen('http://%s:%d/%s' % (E['tcp']['host'], E['tcp']['port'], NONCE), timeout=4) as r:
        r.read()
        return {'status': r.status}
step('urlopen', get)`),
  },
  {
    id: 'V6:python-tcp',
    group: 'V6',
    title: 'socket.create_connection (IPv6)',
    language: 'python',
    notApplicable: needsIPv6,
    code: python(
      `step('AF_INET6 connect', lambda: send_tcp(E['tcp6']['host'], E['tcp6']['port'], 'python-tcp6 ' + NONCE, socket.AF_INET6))`,
    ),
  },
  {
    id: 'V6:python-udp',
    group: 'V6',
    title: 'UDP sendto (IPv6)',
    language: 'python',
    notApplicable: needsIPv6,
    code: python(`def udp6():
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.sendto(('python-udp6 ' + NONCE).encode(), (E['udp6']['host'], E['udp6']['port']))
step('sendto v6', udp6)`),
  },
  {
    id: 'D1:python-udp',
    group: 'D1',
    title: 'DNS query over UDP straight to the canary resolver',
    language: 'python',
    code: python(`${DNS_QUERY}
def ask():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(dns_query(NONCE + '.' + E['dnsZone']), (E['dns']['host'], E['dns']['port']))
        s.recvfrom(512)
step('dns udp', ask)`),
  },
  {
    id: 'D1:python-tcp',
    group: 'D1',
    title: 'DNS query over TCP straight to the canary resolver',
    language: 'python',
    code: python(`${DNS_QUERY}
def ask():
    query = dns_query(NONCE + '.' + E['dnsZone'])
    with socket.create_connection((E['dns']['host'], E['dns']['port']), 3) as s:
        s.sendall(struct.pack('>H', len(query)) + query)
        s.recv(512)
step('dns tcp', ask)`),
  },
  {
    id: 'D2:python-getaddrinfo',
    group: 'D2',
    title: 'getaddrinfo (system resolver) of <nonce>.<zone>',
    language: 'python',
    notApplicable: needsSystemResolver,
    runWhenNotApplicable: true,
    code: python(
      `step('getaddrinfo', lambda: {'answer': socket.getaddrinfo(NONCE + '.' + E['dnsZone'], 80, socket.AF_INET)[0][4][0]})`,
    ),
  },
  {
    id: 'L1:python-v4',
    group: 'L1',
    title: "socket connect to the host's 127.0.0.1",
    language: 'python',
    notApplicable: needsHostLoopback,
    runWhenNotApplicable: true,
    code: python(
      `step('connect 127.0.0.1', lambda: send_tcp(E['loopbackTcp']['host'], E['loopbackTcp']['port'], 'python-loopback ' + NONCE))`,
    ),
  },
  {
    id: 'N11:ctypes',
    group: 'N11',
    title: 'libc socket/connect/send through ctypes (native code, no socket module)',
    language: 'python',
    code: python(`import ctypes, ctypes.util, struct
def native():
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
    fd = libc.socket(2, 1, 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), 'socket')
    try:
        addr = struct.pack('=H', 2) + struct.pack('>H', E['tcp']['port']) + socket.inet_aton(E['tcp']['host']) + b'\\0' * 8
        if libc.connect(fd, ctypes.c_char_p(addr), len(addr)) != 0:
            raise OSError(ctypes.get_errno(), 'connect')
        payload = ('ctypes ' + NONCE).encode()
        if libc.send(fd, ctypes.c_char_p(payload), len(payload), 0) < 0:
            raise OSError(ctypes.get_errno(), 'send')
    finally:
        libc.close(fd)
step('libc connect', native)`),
  },
  {
    id: 'U1:python',
    group: 'U1',
    title: 'AF_UNIX connect to a host socket path',
    language: 'python',
    controlOn: 'host',
    code: python(
      `step('AF_UNIX connect', lambda: send_tcp(E['unixPath'], None, 'unix-python ' + NONCE, socket.AF_UNIX))`,
    ),
  },
  {
    id: 'U2:python',
    group: 'U2',
    title: "AF_UNIX connect to the host's abstract socket",
    language: 'python',
    controlOn: 'host',
    notApplicable: (context) =>
      context.endpoints.abstractName ? undefined : 'the host cannot listen on an abstract Unix socket',
    // Node (the canary) pads abstract names to the full 108-byte sun_path; try that form and the exact one.
    code: python(`def abstract():
    name = '\\0' + E['abstractName']
    try:
        send_tcp(name + '\\0' * (108 - len(name)), None, 'abstract-python ' + NONCE, socket.AF_UNIX)
    except ConnectionRefusedError:
        send_tcp(name, None, 'abstract-python ' + NONCE, socket.AF_UNIX)
step('abstract connect', abstract)`),
  },
  {
    id: 'U3:daemon-sockets',
    group: 'U3',
    title: 'host daemon sockets (docker, containerd, podman) not connectable',
    language: 'python',
    judge: 'output',
    controlOn: 'host',
    // The host-run control must be able to connect to one, or it would prove nothing.
    notApplicable: () =>
      DAEMON_SOCKETS.some(writable)
        ? undefined
        : 'no container daemon socket on this host that this user can connect to, so no control is possible',
    // Connect and close at once: reaching the socket is the escape (it starts privileged containers); nothing is sent.
    code: python(`import stat
absent = 0
for path in ${JSON.stringify(DAEMON_SOCKETS)}:
    def reach(path=path):
        global absent
        try:
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                raise FileNotFoundError(2, 'not a socket')
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            absent += 1
            raise
        return {'reached': True}
    step('connect ' + path, reach)
if absent == ${DAEMON_SOCKETS.length}:
    # Nothing listens here at all (also what a host without a running daemon shows): no vector, not a refusal.
    print('CORDON-UNSUPPORTED no container daemon listens on any of its sockets here', flush=True)`),
  },
  {
    id: 'R1:raw-icmp',
    group: 'R1',
    title: 'SOCK_RAW ICMP echo with the nonce as payload',
    language: 'python',
    notApplicable: (context) => context.icmpUnavailable,
    code: python(`${ICMP_ECHO}
step('SOCK_RAW icmp', lambda: echo(socket.SOCK_RAW))`),
  },
  {
    id: 'R1:dgram-icmp',
    group: 'R1',
    title: 'unprivileged ICMP (SOCK_DGRAM) echo with the nonce as payload',
    language: 'python',
    notApplicable: (context) => context.icmpUnavailable,
    code: python(`${ICMP_ECHO}
step('SOCK_DGRAM icmp', lambda: echo(socket.SOCK_DGRAM))`),
  },
  {
    id: 'NL1:python-ifaces',
    group: 'NL1',
    title: 'if_nameindex shows only lo',
    language: 'python',
    judge: 'output',
    code: python(`def ifaces():
    names = [name for _, name in socket.if_nameindex() if name != 'lo']
    print('CORDON-FACT interfaces=' + (','.join(names) or 'lo only'), flush=True)
    return {'reached': len(names) > 0}
step('if_nameindex', ifaces)`),
  },
  {
    id: 'NL1:python-change',
    group: 'NL1',
    title: 'change an interface (set lo MTU to its own value) is refused',
    language: 'python',
    judge: 'output',
    controlOn: 'none',
    code: python(`import fcntl, struct
def change():
    # SIOCSIFMTU with the current value: needs CAP_NET_ADMIN, changes nothing if granted.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack('16si12x', b'lo', 0)
        mtu = struct.unpack('16si12x', fcntl.ioctl(s, 0x8921, req))[1]
        fcntl.ioctl(s, 0x8922, struct.pack('16si12x', b'lo', mtu))
        return {'reached': True}
step('SIOCSIFMTU lo', change)`),
  },
  {
    id: 'E1:setns',
    group: 'E1',
    title: 'unshare / setns into the host network namespace, then connect',
    language: 'python',
    code: python(`import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
def call(name, *args):
    if getattr(libc, name)(*args) != 0:
        raise OSError(ctypes.get_errno(), name)
targets = {}
for label, pid in (('host-canary', E['hostPid']), ('pid1', 1), ('parent', os.getppid())):
    try:
        targets[label] = os.open('/proc/%d/ns/net' % pid, os.O_RDONLY)
    except OSError as e:
        emit(step='open ns/net ' + label, ok=False, code=err_code(e))
for label, fd in targets.items():
    step('setns ' + label, lambda fd=fd: call('setns', fd, 0x40000000))
step('connect after setns', lambda: send_tcp(E['tcp']['host'], E['tcp']['port'], 'setns ' + NONCE))
# Building a new namespace is reported (it cannot reach anything by itself).
step('unshare(CLONE_NEWUSER)', lambda: call('unshare', 0x10000000))
step('unshare(CLONE_NEWNET)', lambda: call('unshare', 0x40000000))`),
  },
  {
    id: 'PT1:ptrace',
    group: 'PT1',
    title: 'ptrace / read /proc/<pid>/mem / process_vm_readv of a host process',
    language: 'python',
    judge: 'output',
    controlOn: 'none',
    code: python(`import ctypes, ctypes.util, platform
libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = E['hostPid']
def seize():
    if libc.ptrace(0x4206, pid, None, None) != 0:
        raise OSError(ctypes.get_errno(), 'PTRACE_SEIZE')
    libc.ptrace(17, pid, None, None)
    return {'reached': True}
def start_address():
    with open('/proc/%d/maps' % pid) as maps:
        return int(maps.readline().split('-')[0], 16)
def mem():
    address = start_address()
    with open('/proc/%d/mem' % pid, 'rb') as f:
        f.seek(address)
        f.read(1)
    return {'reached': True}
class IoVec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
def vm_readv():
    buf = ctypes.create_string_buffer(1)
    local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 1)
    remote = IoVec(start_address(), 1)
    if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) < 0:
        raise OSError(ctypes.get_errno(), 'process_vm_readv')
    return {'reached': True}
step('ptrace(PTRACE_SEIZE) host process', seize)
step('read /proc/<host pid>/mem', mem)
step('process_vm_readv host process', vm_readv)
# io_uring can open sockets past a seccomp rule on socket(); report whether it exists.
nr = {'x86_64': 425, 'aarch64': 425}.get(platform.machine())
if nr is not None:
    params = ctypes.create_string_buffer(120)
    fd = libc.syscall(nr, 1, params)
    if fd >= 0:
        os.close(fd)
        print('CORDON-FACT io_uring=available', flush=True)
    else:
        print('CORDON-FACT io_uring=' + errno.errorcode.get(ctypes.get_errno(), '?'), flush=True)`),
  },
];
