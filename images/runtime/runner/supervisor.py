# cordon's in-container supervisor in Python, runner protocol 3, for images that have
# python3 (3.9 or later, standard library only) but no node. It speaks exactly what
# supervisor.cjs speaks for `--kind python` (read that file's header: payload,
# stdin and liveness on fd 0, trailers, exit codes, the booted child, the kill sweep);
# collect.py is collect.cjs ported. Run it isolated from the image's environment:
#   python3 -I -S /opt/cordon/runner/supervisor.py --kind python --uid N
#       [--nproc N] [--python PATH] [--bash PATH]
# `--nproc` is RLIMIT_NPROC set in the program's process alone (setrlimit after the
# uid switch, before exec: a user's image has no prlimit). Output goes to fds 1 and 2
# with blocking os.write loops, never through sys.stdout.
import base64
import collections
import fcntl
import json
import os
import re
import resource
import signal
import socket
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from collect import collect, js_stringify  # noqa: E402 - after the path it lives on

PROTOCOL = 3
WORKDIR = '/workspace'
RUNNER_DIR = '/opt/cordon/runner'
BASE_ENV = {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME': WORKDIR}
BOOT_ENV = dict(BASE_ENV, LANG='C.UTF-8', PYTHONDONTWRITEBYTECODE='1', PYTHONUNBUFFERED='1')
# Larger than any valid request (4 MiB code, 32 MiB files as base64): anything bigger is not one.
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
# How long the sweep waits for killed processes to be reaped before giving up on collection.
SWEEP_TIMEOUT_MS = 5_000
SUPERVISOR_FAILURE = 125
JOB_FD = 3
HOST_READ_BYTES = 64 * 1024
DEFAULT_PATHS = {'python': '/usr/bin/python3', 'bash': '/bin/bash'}
NONCE = re.compile('[0-9a-f]{16,64}')
MAX_SAFE_INTEGER = 2**53 - 1
# The signals Node names (os.constants.signals), and so the host accepts in a trailer.
NAMED_SIGNALS = frozenset(range(1, 32))


class SupervisorError(Exception):
    """A failure before the program's result: exit 125 without a trailer."""


class HostGoneError(SupervisorError):
    """The host ended fd 0 before a payload came: nothing to run, nobody to report to."""


def pause():
    time.sleep(0.002)


def write_fully(fd, data):
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            pause()
            continue
        view = view[written:]


def read_exactly(fd, length):
    """Exactly `length` bytes from `fd`; raises if it ends first."""
    chunks = []
    got = 0
    while got < length:
        try:
            chunk = os.read(fd, min(length - got, 1024 * 1024))
        except BlockingIOError:
            pause()
            continue
        if not chunk:
            raise SupervisorError(f'input ended after {got} of {length} bytes')
        chunks.append(chunk)
        got += len(chunk)
    return b''.join(chunks)


def read_options(argv):
    values = {}
    names = ('kind', 'uid', 'nproc', 'python', 'bash')
    index = 0
    while index < len(argv):
        arg = argv[index]
        if not arg.startswith('--'):
            raise SupervisorError(f'unexpected argument {arg!r}')
        name, equals, value = arg[2:].partition('=')
        if name not in names:
            raise SupervisorError(f"unknown option '--{name}'")
        if not equals:
            index += 1
            if index >= len(argv):
                raise SupervisorError(f"option '--{name}' needs a value")
            value = argv[index]
        values[name] = value
        index += 1
    kind = values.get('kind')
    if kind != 'python':
        # node has its own supervisor (supervisor.cjs); this one runs python and bash only.
        raise SupervisorError(f'--kind must be python (got {kind}): supervisor.py boots python only')
    uid_text = values.get('uid', '')
    if not re.fullmatch('[0-9]+', uid_text) or int(uid_text) >= 2**31:
        raise SupervisorError(f'--uid must be a uid (got {values.get("uid")})')
    nproc = values.get('nproc')
    if nproc is not None:
        if not re.fullmatch('[0-9]+', nproc) or int(nproc) < 1:
            raise SupervisorError(f'--nproc must be a positive integer (got {nproc})')
        nproc = int(nproc)
    paths = {}
    for name, default in DEFAULT_PATHS.items():
        value = values.get(name, default)
        if not value.startswith('/') or '\0' in value:
            raise SupervisorError(f'--{name} must be an absolute path (got {json.dumps(value)})')
        paths[name] = value
    return {'kind': kind, 'uid': int(uid_text), 'nproc': nproc, 'paths': paths}


def as_program(uid, fn):
    """Runs `fn` with the program's effective uid and gid (root's own are restored after)."""
    if uid == 0:
        return fn()
    os.setegid(uid)
    os.seteuid(uid)
    try:
        return fn()
    finally:
        os.seteuid(0)
        os.setegid(0)


def spawn_program(options, argv, env, fds):
    """
    Starts a process under the sandbox uid with `fds` ({child fd: this process's fd})
    and nothing else open, as Node's spawn does (signals default, mask empty). Called
    only while this process has one thread, so the forked child may run Python.
    RLIMIT_NPROC is set in that process only, never on root's: under gVisor root is
    counted too, and on a shared kernel root's count is the whole machine's. It
    inherits this process's cwd, the workdir, entered as the program's uid.
    """
    error_read, error_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            # Above every target first (F_DUPFD leaves them inheritable), so no dup2 clobbers a source.
            lifted = {target: fcntl.fcntl(source, fcntl.F_DUPFD, 10) for target, source in fds.items()}
            for target, source in lifted.items():
                os.dup2(source, target)
            for entry in os.listdir('/proc/self/fd'):
                fd = int(entry)
                if fd not in fds and fd != error_write:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            for number in range(1, signal.NSIG):
                if number in (signal.SIGKILL, signal.SIGSTOP):
                    continue
                try:
                    signal.signal(number, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            uid = options['uid']
            if uid != 0:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            if options['nproc'] is not None:
                resource.setrlimit(resource.RLIMIT_NPROC, (options['nproc'], options['nproc']))
            os.execve(argv[0], argv, env)
        except BaseException as error:  # noqa: BLE001 - reported to the parent, then gone
            try:
                os.write(error_write, f'{type(error).__name__}: {error}'.encode('utf-8', 'replace'))
            finally:
                os._exit(127)
    os.close(error_write)
    chunks = []
    while True:
        chunk = os.read(error_read, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(error_read)
    if chunks:
        os.waitpid(pid, 0)
        raise SupervisorError(f'could not start {argv[0]}: {b"".join(chunks).decode("utf-8", "replace")}')
    return pid


def read_payload():
    try:
        header = read_exactly(0, 4)
    except (SupervisorError, OSError) as error:
        raise HostGoneError(f'fd 0 ended before a payload came ({error})') from None
    length = int.from_bytes(header, 'big')
    if length > MAX_PAYLOAD_BYTES:
        raise SupervisorError(f'payload of {length} bytes is larger than {MAX_PAYLOAD_BYTES}')
    payload = json.loads(read_exactly(0, length).decode('utf-8', 'replace'))
    if not isinstance(payload, dict):
        raise SupervisorError('the payload is not a JSON object')
    version = payload.get('v')
    if type(version) not in (int, float) or version != PROTOCOL:
        raise SupervisorError(
            f'unsupported payload version {js_stringify(version) if version is not None else "undefined"} '
            f'(this runner speaks {PROTOCOL})'
        )
    nonce = payload.get('nonce')
    if not isinstance(nonce, str) or not NONCE.fullmatch(nonce):
        raise SupervisorError('the payload has no valid nonce')
    stdin_bytes = payload.get('stdinBytes')
    if isinstance(stdin_bytes, float) and stdin_bytes.is_integer():
        stdin_bytes = int(stdin_bytes)
    if type(stdin_bytes) is not int or not 0 <= stdin_bytes <= MAX_SAFE_INTEGER:
        raise SupervisorError(
            f"the payload's stdinBytes must be an integer >= 0 (got {json.dumps(payload.get('stdinBytes'))})"
        )
    payload['stdinBytes'] = stdin_bytes
    return payload


def inside_workdir(relative):
    """A request path as an absolute path under the workdir; the host sent it normalised, this re-checks."""
    normal = os.path.normpath(str(relative))
    if os.path.isabs(normal) or normal in ('.', '..') or normal.startswith('../'):
        raise SupervisorError(f'file path {json.dumps(relative)} is not inside the working directory')
    return os.path.join(WORKDIR, normal)


def write_program(files, code, script):
    """workdir.cjs's writeProgram: the request's files and the program's source, as the caller's uid."""
    for relative, content in files:
        target = inside_workdir(relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, 'wb') as handle:
            handle.write(base64.b64decode(content))
    with open(script, 'wb') as handle:
        handle.write(code.encode('utf-8', 'surrogatepass'))


def kill_once():
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass  # ESRCH: nothing left to signal.


def reap_children():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def other_processes():
    me = os.getpid()
    return [int(name) for name in os.listdir('/proc') if name.isdigit() and int(name) not in (1, me)]


def kill_program_processes():
    """
    SIGKILLs every process but PID 1 and this one (kill(-1) reaches exactly those: the
    program's, all of the sandbox uid) until /proc shows none, reaping this process's
    own children, so nothing can write output after the trailer or change the files
    while they are collected.
    """
    started = time.monotonic()
    while True:
        kill_once()
        reap_children()
        if not other_processes():
            return True
        if (time.monotonic() - started) * 1000 > SWEEP_TIMEOUT_MS:
            return False
        pause()


# Held by whoever ends the run: the trailer (main thread) or the host's end (relay thread).
ENDING = threading.Lock()


def host_gone():
    """fd 0 ended before the trailer: the host is gone, and so is the run."""
    if not ENDING.acquire(blocking=False):
        return  # the trailer is being written; this process exits with the program's code
    kill_once()
    os._exit(SUPERVISOR_FAILURE)


def relay_host(stdin_bytes, program_stdin):
    """
    The host's side of the run on fd 0, after the payload: `stdin_bytes` bytes go to the
    program's stdin through a queue (a program that never reads stalls only the writer
    thread), which then shuts it; whatever follows is dropped; the end of fd 0 or a read
    error means the host is gone.
    """
    chunks = collections.deque()
    ready = threading.Condition()

    def writer():
        open_ = True
        while True:
            with ready:
                while not chunks:
                    ready.wait()
                chunk = chunks.popleft()
            if chunk is None:
                break
            if open_:
                try:
                    program_stdin.sendall(chunk)
                except OSError:
                    open_ = False  # EPIPE: the program is done with its stdin.
        try:
            program_stdin.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        program_stdin.close()

    def put(chunk):
        with ready:
            chunks.append(chunk)
            ready.notify()

    def reader():
        remaining = stdin_bytes
        if remaining == 0:
            put(None)
        while True:
            try:
                data = os.read(0, HOST_READ_BYTES)
            except BlockingIOError:
                pause()
                continue
            except OSError:
                host_gone()
                return
            if not data:
                host_gone()
                return
            if remaining > 0:
                taken = data[:remaining]
                remaining -= len(taken)
                put(taken)
                if remaining == 0:
                    put(None)

    threading.Thread(target=writer, name='stdin', daemon=True).start()
    threading.Thread(target=reader, name='host', daemon=True).start()


def wait_status(pid):
    """(exitCode, signal name, signal number) of the program, as Node names signals."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in NAMED_SIGNALS else None
        if name is None:
            # A real-time signal: Node (and so the host) has no name for it; the shell's 128+N then.
            return 128 + number, None, number
        return None, name, number
    return os.WEXITSTATUS(status), None, None


def write_trailers(nonce, body):
    marker = f'\0cordon:{nonce}:'.encode('ascii')
    write_fully(1, marker + b'\0')
    write_fully(2, marker + js_stringify(body).encode('utf-8') + b'\0')


def main():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    options = read_options(sys.argv[1:])
    if os.getuid() != 0:
        raise SupervisorError(
            'the supervisor must run as root (holding CAP_SETUID, CAP_SETGID, CAP_KILL): '
            'it runs the program as another uid'
        )
    uid = options['uid']
    # Root's supplementary groups would widen what the collection can read.
    if uid != 0:
        os.setgroups([])

    def enter_workdir():
        os.chdir(WORKDIR)
        return os.stat('.').st_dev

    root_dev = as_program(uid, enter_workdir)
    # The program's stdin is a socket from this process (see relay_host), from boot on, as supervisor.cjs gives.
    stdin_ours, stdin_theirs = socket.socketpair()
    job_read, job_write = os.pipe()
    booted = spawn_program(
        options,
        [options['paths']['python'], '-u', f'{RUNNER_DIR}/child.py'],
        BOOT_ENV,
        {0: stdin_theirs.fileno(), 1: 1, 2: 2, JOB_FD: job_read},
    )
    stdin_theirs.close()
    os.close(job_read)

    payload = read_payload()
    env = dict(BASE_ENV, **payload['env'])
    if payload['language'] == 'bash':
        try:
            os.kill(booted, signal.SIGKILL)
        except OSError:
            pass
        os.close(job_write)
        stdin_ours.close()
        script = os.path.join(WORKDIR, 'main.sh')
        as_program(uid, lambda: write_program(payload['files'], payload['code'], script))
        stdin_ours, stdin_theirs = socket.socketpair()
        program = spawn_program(options, [options['paths']['bash'], script], env, {0: stdin_theirs.fileno(), 1: 1, 2: 2})
        stdin_theirs.close()
    else:
        if payload['language'] != options['kind']:
            raise SupervisorError(f"this runner boots {options['kind']}, not {payload['language']}")
        script = os.path.join(WORKDIR, 'main.py')
        job = {'script': script, 'env': env, 'files': payload['files'], 'code': payload['code']}
        try:
            write_fully(job_write, json.dumps(job).encode('utf-8'))
        finally:
            os.close(job_write)
        program = booted
    relay_host(payload['stdinBytes'], stdin_ours)
    return payload, program, options, root_dev


def finish(payload, program, options, root_dev):
    code, signal_name, signal_number = wait_status(program)
    result = {'files': [], 'truncated': False, 'warnings': []}
    if len(payload['collect']['include']) == 0:
        # Nothing to read back: the sandbox's processes are killed, and whatever they were
        # still writing lands after the trailer, where the host no longer reads.
        kill_once()
    elif not kill_program_processes():
        result['warnings'].append(
            f'collection skipped: processes of the sandbox were still there {SWEEP_TIMEOUT_MS} ms after SIGKILL'
        )
    else:
        try:
            result = as_program(
                options['uid'],
                lambda: collect(WORKDIR, root_dev, payload['collect'], payload['bounds']),
            )
        except Exception as error:  # noqa: BLE001 - reported as a warning, as collect.cjs's caller does
            result['warnings'].append(f'collection failed: {error}')
    if not ENDING.acquire(blocking=False):
        # The host's end was seen first: that thread is exiting 125.
        time.sleep(60)
    write_trailers(
        payload['nonce'],
        {
            'exitCode': code,
            'signal': signal_name,
            'files': result['files'],
            'filesTruncated': result['truncated'],
            'warnings': result['warnings'],
        },
    )
    os._exit(code if code is not None else 128 + signal_number)


def run():
    try:
        finish(*main())
    except BaseException as error:  # noqa: BLE001 - every failure ends in 125, said on stderr
        try:
            if isinstance(error, HostGoneError):
                kill_once()
            detail = str(error) if isinstance(error, SupervisorError) else traceback.format_exc()
            write_fully(2, f'cordon supervisor: {detail}\n'.encode('utf-8', 'replace'))
        finally:
            os._exit(SUPERVISOR_FAILURE)


run()
