import type { CanaryEndpoints } from '../types.js';

/**
 * Wrappers that give probe bodies the same vocabulary in every runtime: `E` (the
 * endpoints), `NONCE`, and a `step(name, fn)` that times out on its own and prints
 * one `CORDON-PROBE` line with the error code, so the report shows which layer
 * blocked. Probe code must run both as a CommonJS script and as an ES module.
 */
export const STEP_TIMEOUT_MS = 4_000;

export function nodeProbe(endpoints: CanaryEndpoints, nonce: string, body: string): string {
  return `'use strict';
const $r = typeof require === 'function' ? require : process.getBuiltinModule;
const E = ${JSON.stringify(endpoints)};
const NONCE = ${JSON.stringify(nonce)};
const emit = (o) => process.stdout.write('CORDON-PROBE ' + JSON.stringify(o) + '\\n');
const errCode = (e) => String((e && (e.code || (e.cause && e.cause.code) || e.name)) || e);
const step = async (name, fn, ms = ${STEP_TIMEOUT_MS}) => {
  let timer;
  const started = Date.now();
  try {
    const value = await Promise.race([fn(), new Promise((_, reject) => { timer = setTimeout(() => reject(Object.assign(new Error('probe step timed out'), { code: 'ETIMEDOUT' })), ms); })]);
    emit({ step: name, ok: true, ...(value && typeof value === 'object' ? value : {}), ms: Date.now() - started });
  } catch (e) {
    emit({ step: name, ok: false, code: errCode(e), message: String((e && e.message) || e).slice(0, 200), ms: Date.now() - started });
  } finally { clearTimeout(timer); }
};
const hostOf = (h) => (h.includes(':') ? '[' + h + ']' : h);
const sendTcp = (options, payload) => new Promise((resolve, reject) => {
  const socket = $r('node:net').connect(options);
  socket.once('error', reject);
  socket.once('connect', () => socket.end(payload, () => { socket.destroy(); resolve({}); }));
});
const onPath = (name) => (process.env.PATH || '/usr/bin:/bin').split(':').some((d) => { try { $r('node:fs').accessSync(d + '/' + name, 1); return true; } catch { return false; } });
(async () => {
${body}
})().catch((e) => emit({ step: 'probe', ok: false, code: errCode(e), message: String(e && e.message) })).finally(() => setTimeout(() => process.exit(0), 20));
`;
}

export function pythonProbe(endpoints: CanaryEndpoints, nonce: string, body: string): string {
  return `import errno, json, os, socket, sys
E = json.loads(${JSON.stringify(JSON.stringify(endpoints))})
NONCE = ${JSON.stringify(nonce)}
socket.setdefaulttimeout(${STEP_TIMEOUT_MS / 1000})
def emit(**o):
    print('CORDON-PROBE ' + json.dumps(o), flush=True)
def err_code(e):
    reason = getattr(e, 'reason', None)
    if isinstance(reason, BaseException):
        e = reason
    if isinstance(e, socket.timeout):
        return 'ETIMEDOUT'
    if isinstance(e, socket.gaierror):
        return {socket.EAI_AGAIN: 'EAI_AGAIN', socket.EAI_NONAME: 'ENOTFOUND'}.get(e.errno, 'EAI_' + str(e.errno))
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__
def step(name, fn):
    import time
    started = time.monotonic()
    elapsed = lambda: round((time.monotonic() - started) * 1000)
    try:
        value = fn()
        emit(step=name, ok=True, **{**(value if isinstance(value, dict) else {}), 'ms': elapsed()})
    except BaseException as e:
        emit(step=name, ok=False, code=err_code(e), message=str(e)[:200], ms=elapsed())
def send_tcp(host, port, payload, family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.connect(host if family == socket.AF_UNIX else (host, port))
        s.sendall(payload.encode())
${body}
`;
}

/** Bash probes first prove their tools exist (missing ⇒ `invalid`, never `blocked`). */
export function bashProbe(endpoints: CanaryEndpoints, nonce: string, tools: readonly string[], body: string): string {
  const hostPort = (name: string, value: { host: string; port: number } | undefined) =>
    value ? `${name}_HOST='${value.host}'; ${name}_PORT=${value.port}\n` : '';
  return `NONCE='${nonce}'
${hostPort('TCP', endpoints.tcp)}${hostPort('TCP6', endpoints.tcp6)}${hostPort('UDP', endpoints.udp)}${hostPort('UDP6', endpoints.udp6)}${hostPort('DNS', endpoints.dns)}${hostPort('LO', endpoints.loopbackTcp)}${hostPort('LO6', endpoints.loopbackTcp6)}UNIX_PATH='${endpoints.unixPath}'; ZONE='${endpoints.dnsZone}'
for tool in ${tools.join(' ')}; do command -v "$tool" >/dev/null 2>&1 || { echo "CORDON-TOOL-MISSING $tool"; exit 0; }; done
emit() { printf 'CORDON-PROBE {"step":"%s","ok":%s,"code":"%s","message":"%s","ms":%d}\\n' "$1" "$2" "$3" "$4" "\${5:-0}"; }
now_ms() { local ns; ns=$(date +%s%N 2>/dev/null) && [ "\${#ns}" -gt 10 ] && echo $((ns / 1000000)) || echo $((SECONDS * 1000)); }
step() {
  local name=$1; shift
  local err rc started
  started=$(now_ms)
  err=$("$@" 2>&1 >/dev/null); rc=$?
  local ms=$(( $(now_ms) - started ))
  if [ $rc -eq 0 ]; then emit "$name" true "" "" "$ms"; else emit "$name" false "exit $rc" "$(printf '%s' "$err" | tr -d '"\\\\' | tr '\\n' ' ' | cut -c1-200)" "$ms"; fi
}
${body}
`;
}
