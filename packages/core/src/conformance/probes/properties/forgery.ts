import { readlinkSync } from 'node:fs';
import { debug } from '../../../backend/debug.js';

/**
 * The attacker's toolkit of the result-channel probes (escape-probes.md "The result
 * channel"): find the other processes, hunt the per-run nonce of an in-band
 * trailer wherever a runner may have left it, and forge what a runner reports.
 * Each runtime's version defines helpers for its probe body; every route it
 * tries is reported as a `CORDON-FACT route.<name>=<what it got>` line.
 */

/** Starts every byte a probe forges, so the host can tell a forged file from a real one. */
export const FORGED_PREFIX = 'cordon-forged-';

/** Paths a forged trailer claims: a traversal, an absolute path, a file never written, and one the program does write. */
export const FORGED_PATHS = ['../../etc/evil', '/abs/evil', 'forged.txt', 'late.txt'] as const;

/** The forged end-of-run claim, as a trailer carries it: base64 of `{ exitCode: 0, signal: null, files, filesTruncated: false }`. */
export function forgedTrailerBody(nonce: string): string {
  const content = Buffer.from(`${FORGED_PREFIX}${nonce}`).toString('base64');
  const files = FORGED_PATHS.map((path) => [path, content]);
  return Buffer.from(JSON.stringify({ exitCode: 0, signal: null, files, filesTruncated: false })).toString('base64');
}

/**
 * The host's own PID namespace. Probe code that finds itself in it (no PID
 * isolation: an unisolated or broken backend) keeps its invasive routes to its
 * own session, so it never writes into, or traces, the host's processes.
 */
export function hostPidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch (error) {
    debug('conformance.probe', 'read /proc/self/ns/pid', error);
    return '';
  }
}

/**
 * Python helpers (after `pythonProbe`'s prelude): `targets()`, `route()`/`note()`/
 * `report_routes()`, nonce hunting (`hunt_env`, `hunt_proc`, `hunt_frames`,
 * `hunt_memory`, filling `CANDIDATES`), `regions(pid)`, `write_to(fd, data)`.
 */
export function pythonForgeryToolkit(hostPidNs: string): string {
  return String.raw`import ctypes, ctypes.util, gc, platform, re, select, stat, time
HOST_PIDNS = ${JSON.stringify(hostPidNs)}
LIBC = ctypes.CDLL(None, use_errno=True)
ME = os.getpid()
try:
    SHARED_PIDNS = os.readlink('/proc/self/ns/pid') == HOST_PIDNS
except OSError:
    SHARED_PIDNS = True
ROUTES = {}
def route(name, ok=None, err=None):
    entry = ROUTES.setdefault(name, [[], set(), None])
    if ok is not None and ok not in entry[0] and len(entry[0]) < 6:
        entry[0].append(ok)
    if err is not None:
        entry[1].add(err)
def note(name, text):
    ROUTES.setdefault(name, [[], set(), None])[2] = text
def report_routes():
    for name, (ok, errs, text) in ROUTES.items():
        if text is None:
            text = ('got ' + ', '.join(ok)) if ok else ('/'.join(sorted(errs)) or 'nothing to try')
            if ok and errs:
                text += ' (else ' + '/'.join(sorted(errs)) + ')'
        print('CORDON-FACT route.%s=%s' % (name, text), flush=True)
def errno_name():
    number = ctypes.get_errno()
    return errno.errorcode.get(number, str(number))
def guarded(name, fn, *args):
    try:
        return fn(*args)
    except BaseException as e:
        route(name, err=err_code(e))
def targets():
    """Every other process; in the host's PID namespace only this session's (the host's processes are never touched)."""
    pids = [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != ME]
    if SHARED_PIDNS:
        mine = os.getsid(0)
        def same_session(pid):
            try:
                return os.getsid(pid) == mine
            except OSError:
                return False
        pids = [pid for pid in pids if same_session(pid)]
    note('targets', '%d other processes%s' % (len(pids), ' in its own session (it shares the host PID namespace)' if SHARED_PIDNS else ''))
    return sorted(pids)
NONCE_PATTERNS = [re.compile(rb'cordon:([0-9A-Za-z_-]{8,128}):'), re.compile(rb'"nonce"\s*:\s*"([0-9A-Za-z_-]{8,128})"')]
CANDIDATES = []
def candidate(value, source):
    if isinstance(value, bytes):
        value = value.decode('latin1')
    if not isinstance(value, str) or not re.match(r'^[0-9A-Za-z_-]{8,128}$', value) or value in CANDIDATES or len(CANDIDATES) >= 16:
        return
    CANDIDATES.append(value)
    route('nonce candidates', ok=source)
def scan(data, source):
    for pattern in NONCE_PATTERNS:
        for match in pattern.finditer(data):
            candidate(match.group(1), source)
def hunt_env():
    for key, value in os.environ.items():
        if 'NONCE' in key.upper() or re.match(r'^[0-9a-fA-F]{16,128}$', value):
            candidate(value, 'own env')
        else:
            scan(value.encode('utf-8', 'replace'), 'own env')
def hunt_proc(pids):
    for pid in pids:
        for name in ('cmdline', 'environ'):
            try:
                with open('/proc/%d/%s' % (pid, name), 'rb') as f:
                    data = f.read(1 << 20)
            except OSError as e:
                route('read /proc/<pid>/' + name, err=err_code(e))
                continue
            route('read /proc/<pid>/' + name, ok=str(pid))
            scan(data, '/proc/%d/%s' % (pid, name))
            for entry in data.split(b'\0'):
                key, _, value = entry.partition(b'=')
                if value and b'NONCE' in key.upper():
                    candidate(value, '/proc/%d/%s' % (pid, name))
def hunt_frames():
    """A runner that runs the program in its own interpreter keeps its job in a caller's frame, or somewhere gc sees."""
    def walk(value, source, depth):
        if depth > 3:
            return
        items = list(value.items())[:300] if isinstance(value, dict) else [(None, item) for item in list(value)[:300]]
        for key, item in items:
            if key == 'nonce':
                candidate(item, source)
            if isinstance(item, (dict, list, tuple)):
                walk(item, source, depth + 1)
    frame, outer = sys._getframe(), 0
    while frame is not None:
        walk(frame.f_locals, 'frame ' + frame.f_code.co_name, 0)
        outer += frame.f_globals is not globals()
        frame = frame.f_back
    note('sys._getframe chain', '%d frames outside the program' % outer)
    for obj in gc.get_objects():
        if isinstance(obj, dict) and 'nonce' in obj:
            candidate(obj['nonce'], 'gc.get_objects')
def regions(pid):
    """Readable mappings that may hold data (writable ones, heap, stack, anonymous), as (start, end, writable)."""
    found = []
    with open('/proc/%s/maps' % pid) as maps:
        for line in maps:
            parts = line.split()
            name = parts[5] if len(parts) > 5 else ''
            if len(parts) < 5 or parts[1][0] != 'r' or name.startswith('[v'):
                continue
            if parts[1][1] != 'w' and name not in ('', '[heap]', '[stack]'):
                continue
            start, end = (int(x, 16) for x in parts[0].split('-'))
            found.append((start, end, parts[1][1] == 'w'))
    return found
def hunt_memory(pids, budget):
    for pid in pids:
        try:
            mapped = regions(pid)
            fd = os.open('/proc/%s/mem' % pid, os.O_RDONLY)
        except OSError as e:
            route('read /proc/<pid>/mem', err=err_code(e))
            continue
        seen = 0
        try:
            for start, end, _ in mapped:
                at = start
                while at < end and budget > 0:
                    try:
                        data = os.pread(fd, min(4 << 20, end - at, budget), at)
                    except OSError:
                        break
                    if not data:
                        break
                    scan(data, 'memory of %s' % pid)
                    seen, budget, at = seen + len(data), budget - len(data), at + len(data)
        finally:
            os.close(fd)
        if seen:
            route('read /proc/<pid>/mem', ok='%s (%d MiB)' % (pid, seen >> 20))
        else:
            route('read /proc/<pid>/mem', err='nothing readable')
        if budget <= 0:
            break
def write_to(fd, data):
    """Writes without ever blocking; returns what the descriptor was. Devices and anonymous inodes are left alone."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISSOCK(mode):
        s = socket.socket(fileno=os.dup(fd))
        try:
            s.send(data, socket.MSG_DONTWAIT)
        finally:
            s.close()
        return 'socket'
    if stat.S_ISFIFO(mode):
        for at in range(0, len(data), 4096):
            if not select.select([], [fd], [], 0)[1]:
                return 'pipe (full)'
            os.write(fd, data[at:at + 4096])
        return 'pipe'
    if stat.S_ISREG(mode):
        os.write(fd, data)
        return 'file'
    return 'left alone'
`;
}

/**
 * Node helpers (inside `nodeProbe`'s async body): `targets()`, `route()`/`note()`/
 * `reportRoutes()`, `huntEnv()`, `huntProc(pids)`, `huntMemory(pids, budget)`,
 * filling `CANDIDATES`, and `writeTo(fd, buffer)`. Node has no raw syscalls, so
 * pidfd_getfd, ptrace and process_vm_writev are out of its reach.
 */
export function nodeForgeryToolkit(hostPidNs: string): string {
  return String.raw`const fs = $r('node:fs');
const HOST_PIDNS = ${JSON.stringify(hostPidNs)};
let SHARED_PIDNS = true;
try { SHARED_PIDNS = fs.readlinkSync('/proc/self/ns/pid') === HOST_PIDNS; } catch {}
const ROUTES = new Map();
const route = (name, ok, err) => {
  const entry = ROUTES.get(name) || { ok: [], errs: new Set(), text: undefined };
  ROUTES.set(name, entry);
  if (ok !== undefined && !entry.ok.includes(ok) && entry.ok.length < 6) entry.ok.push(ok);
  if (err !== undefined) entry.errs.add(err);
};
const note = (name, text) => { route(name); ROUTES.get(name).text = text; };
const reportRoutes = () => {
  for (const [name, { ok, errs, text }] of ROUTES) {
    let line = text;
    if (line === undefined) {
      line = ok.length ? 'got ' + ok.join(', ') : ([...errs].sort().join('/') || 'nothing to try');
      if (ok.length && errs.size) line += ' (else ' + [...errs].sort().join('/') + ')';
    }
    fs.writeSync(1, 'CORDON-FACT route.' + name + '=' + line + '\n');
  }
};
const guarded = (name, fn) => { try { return fn(); } catch (e) { route(name, undefined, errCode(e)); } };
const sessionOf = (pid) => { try { const stat = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]; } catch { return undefined; } };
const targets = () => {
  let pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).map(Number);
  if (SHARED_PIDNS) { const mine = sessionOf(process.pid); pids = pids.filter((pid) => sessionOf(pid) === mine); }
  note('targets', pids.length + ' other processes' + (SHARED_PIDNS ? ' in its own session (it shares the host PID namespace)' : ''));
  return pids.sort((a, b) => a - b);
};
const CANDIDATES = [];
const candidate = (value, source) => {
  if (typeof value !== 'string' || !/^[0-9A-Za-z_-]{8,128}$/.test(value) || CANDIDATES.includes(value) || CANDIDATES.length >= 16) return;
  CANDIDATES.push(value);
  route('nonce candidates', source);
};
const NONCE_PATTERNS = [/cordon:([0-9A-Za-z_-]{8,128}):/g, /"nonce"\s*:\s*"([0-9A-Za-z_-]{8,128})"/g];
const scan = (text, source) => { for (const pattern of NONCE_PATTERNS) for (const match of text.matchAll(pattern)) candidate(match[1], source); };
const huntEnv = () => {
  for (const [key, value] of Object.entries(process.env)) {
    if (/nonce/i.test(key) || /^[0-9a-fA-F]{16,128}$/.test(value || '')) candidate(value, 'own env');
    else scan(String(value), 'own env');
  }
};
const huntProc = (pids) => {
  for (const pid of pids) for (const name of ['cmdline', 'environ']) {
    let data;
    try { data = fs.readFileSync('/proc/' + pid + '/' + name, 'latin1'); } catch (e) { route('read /proc/<pid>/' + name, undefined, errCode(e)); continue; }
    route('read /proc/<pid>/' + name, String(pid));
    scan(data, '/proc/' + pid + '/' + name);
    for (const entry of data.split('\0')) { const eq = entry.indexOf('='); if (eq > 0 && /nonce/i.test(entry.slice(0, eq))) candidate(entry.slice(eq + 1), '/proc/' + pid + '/' + name); }
  }
};
const regions = (pid) => fs.readFileSync('/proc/' + pid + '/maps', 'latin1').split('\n').map((line) => line.split(/\s+/)).filter((parts) => {
  const name = parts[5] || '';
  return parts.length >= 5 && parts[1] && parts[1][0] === 'r' && !name.startsWith('[v') && (parts[1][1] === 'w' || ['', '[heap]', '[stack]'].includes(name));
}).map((parts) => { const [start, end] = parts[0].split('-').map((x) => parseInt(x, 16)); return { start, end, writable: parts[1][1] === 'w' }; });
const huntMemory = (pids, budget) => {
  const chunk = Buffer.alloc(4 << 20);
  for (const pid of pids) {
    let mapped, fd;
    try { mapped = regions(pid); fd = fs.openSync('/proc/' + pid + '/mem', 'r'); } catch (e) { route('read /proc/<pid>/mem', undefined, errCode(e)); continue; }
    let seen = 0;
    try {
      for (const { start, end } of mapped) {
        for (let at = start; at < end && budget > 0;) {
          let read = 0;
          try { read = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - at, budget), at); } catch { break; }
          if (read === 0) break;
          scan(chunk.toString('latin1', 0, read), 'memory of ' + pid);
          seen += read; budget -= read; at += read;
        }
      }
    } finally { fs.closeSync(fd); }
    if (seen) route('read /proc/<pid>/mem', pid + ' (' + (seen >> 20) + ' MiB)'); else route('read /proc/<pid>/mem', undefined, 'nothing readable');
    if (budget <= 0) break;
  }
};
const writeTo = (fd, data) => {
  const stat = fs.fstatSync(fd);
  if (stat.isCharacterDevice() || stat.isDirectory() || !(stat.isFIFO() || stat.isFile())) return 'left alone';
  fs.writeSync(fd, data);
  return stat.isFIFO() ? 'pipe' : 'file';
};
`;
}

/**
 * Bash helpers (after `bashProbe`'s prelude): `targets` (fills `PIDS`),
 * `route`/`note`/`report_routes`, `hunt_env`, `hunt_proc`, `hunt_memory`
 * (with dd and grep, when present), filling `CANDIDATES`.
 */
export function bashForgeryToolkit(hostPidNs: string): string {
  return bashCode(String.raw`HOST_PIDNS='${hostPidNs}'
declare -A ROUTE_OK ROUTE_ERR ROUTE_TEXT
ROUTE_NAMES=()
route() { # name ok|err what
  local name=$1 kind=$2 what=$3 known= seen
  for seen in "@{ROUTE_NAMES[@]}"; do [ "$seen" = "$name" ] && known=1; done
  [ -z "$known" ] && ROUTE_NAMES+=("$name")
  if [ "$kind" = ok ]; then [[ ", @{ROUTE_OK[$name]}, " == *", $what, "* ]] || ROUTE_OK[$name]="@{ROUTE_OK[$name]:+@{ROUTE_OK[$name]}, }$what"
  else [[ "/@{ROUTE_ERR[$name]}/" == *"/$what/"* ]] || ROUTE_ERR[$name]="@{ROUTE_ERR[$name]:+@{ROUTE_ERR[$name]}/}$what"; fi
}
note() { route "$1" ok ''; ROUTE_TEXT[$1]=$2; }
report_routes() {
  local name text
  for name in "@{ROUTE_NAMES[@]}"; do
    text=@{ROUTE_TEXT[$name]}
    if [ -z "$text" ]; then
      if [ -n "@{ROUTE_OK[$name]}" ]; then text="got @{ROUTE_OK[$name]}"; [ -n "@{ROUTE_ERR[$name]}" ] && text+=" (else @{ROUTE_ERR[$name]})"
      else text=@{ROUTE_ERR[$name]:-nothing to try}; fi
    fi
    printf 'CORDON-FACT route.%s=%s\n' "$name" "$text"
  done
}
MY_PIDNS=$(readlink /proc/self/ns/pid 2>/dev/null)
SHARED_PIDNS=; [ -z "$MY_PIDNS" ] || [ "$MY_PIDNS" = "$HOST_PIDNS" ] && SHARED_PIDNS=1
session_of() { local stat; stat=$(<"/proc/$1/stat") 2>/dev/null || return 1; stat=@{stat##*) }; set -- $stat; echo "$4"; }
PIDS=()
targets() {
  local me=$$ mine p pid; mine=$(session_of $$)
  for p in /proc/[0-9]*; do
    pid=@{p#/proc/}
    [ "$pid" = "$me" ] && continue
    [ -n "$SHARED_PIDNS" ] && [ "$(session_of "$pid" 2>/dev/null)" != "$mine" ] && continue
    [ -d "$p" ] && PIDS+=("$pid")
  done
  note targets "@{#PIDS[@]} other processes@{SHARED_PIDNS:+ in its own session (it shares the host PID namespace)}"
}
CANDIDATES=()
candidate() { # value source
  local value=$1 c
  [[ "$value" =~ ^[0-9A-Za-z_-]{8,128}$ ]] || return 0
  for c in "@{CANDIDATES[@]}"; do [ "$c" = "$value" ] && return 0; done
  [ @{#CANDIDATES[@]} -ge 16 ] && return 0
  CANDIDATES+=("$value"); route 'nonce candidates' ok "$2"
}
scan() { # text source
  local text=$1
  while [[ "$text" =~ cordon:([0-9A-Za-z_-]{8,128}): ]]; do candidate "@{BASH_REMATCH[1]}" "$2"; text=@{text#*"@{BASH_REMATCH[0]}"}; done
  text=$1
  while [[ "$text" =~ \"nonce\"\ *:\ *\"([0-9A-Za-z_-]{8,128})\" ]]; do candidate "@{BASH_REMATCH[1]}" "$2"; text=@{text#*"@{BASH_REMATCH[0]}"}; done
}
hunt_env() {
  local key
  for key in $(compgen -e); do
    if [[ "@{key^^}" == *NONCE* ]] || [[ "@{!key}" =~ ^[0-9a-fA-F]{16,128}$ ]]; then candidate "@{!key}" 'own env'; else scan "@{!key}" 'own env'; fi
  done
}
hunt_proc() {
  local pid name entries entry
  for pid in "@{PIDS[@]}"; do
    for name in cmdline environ; do
      if ! mapfile -d '' entries < "/proc/$pid/$name" 2>/dev/null; then route "read /proc/<pid>/$name" err EACCES; continue; fi
      route "read /proc/<pid>/$name" ok "$pid"
      for entry in "@{entries[@]}"; do
        scan "$entry" "/proc/$pid/$name"
        [[ "@{entry%%=*}" == *[Nn][Oo][Nn][Cc][Ee]* ]] && [[ "$entry" == *=* ]] && candidate "@{entry#*=}" "/proc/$pid/$name"
      done
    done
  done
}
hunt_memory() { # budget in 4 KiB pages, over "self" and PIDS
  command -v dd >/dev/null && command -v grep >/dev/null || { route 'read /proc/<pid>/mem' err 'no dd/grep'; return; }
  local budget=$1 pid line range perms name start end pages found seen
  for pid in self "@{PIDS[@]}"; do
    [ -r "/proc/$pid/maps" ] || { route 'read /proc/<pid>/mem' err EACCES; continue; }
    seen=0
    while read -r range perms _ _ _ name; do
      [[ "$perms" == r* ]] || continue
      [[ "$name" == '[v'* ]] && continue
      [[ "$perms" == ?w* ]] || [ -z "$name" ] || [ "$name" = '[heap]' ] || [ "$name" = '[stack]' ] || continue
      start=$((16#@{range%-*})); end=$((16#@{range#*-})); pages=$(((end - start) / 4096))
      [ $pages -gt $budget ] && pages=$budget
      [ $pages -le 0 ] && break
      while read -r found; do scan "$found" "memory of $pid"; done < <(dd if="/proc/$pid/mem" bs=4096 skip=$((start / 4096)) count=$pages 2>/dev/null | grep -aoE 'cordon:[0-9A-Za-z_-]{8,128}:|"nonce" *: *"[0-9A-Za-z_-]{8,128}"')
      budget=$((budget - pages)); seen=$((seen + pages))
    done < "/proc/$pid/maps"
    if [ $seen -gt 0 ]; then route 'read /proc/<pid>/mem' ok "$pid ($((seen / 256)) MiB)"; else route 'read /proc/<pid>/mem' err 'nothing readable'; fi
    [ $budget -le 0 ] && break
  done
}
`);
}

/** Bash code is written with `@{` for its `${`, which a template literal would take for its own. */
export function bashCode(code: string): string {
  return code.replaceAll('@{', '${');
}
