/**
 * A network policy plugin programs a new pod's rules a moment after the pod starts
 * (kube-router on the test cluster: about 0.6-0.9 s during which everything was
 * reachable). So a sandbox pod's first process is this gate: it keeps trying to
 * reach the API server's service address, reachable from any unpoliced pod, and
 * hands over to the runner only once that is blocked. If it is still reachable after
 * the gate's time budget, the pod exits with GATE_EXIT_CODE and its termination
 * message says why: the execution is refused, never run unguarded.
 */
import { InvalidRequestError } from '@cordon/core';
import { checkInterpreter, type Interpreter } from './interpreter.js';

export const GATE_EXIT_CODE = 86;
export const GATE_MESSAGE_PREFIX = 'cordon network gate:';

export function gateSource(timeoutMs: number): string {
  return `
const net = require('node:net');
const fs = require('node:fs');
const host = process.env.KUBERNETES_SERVICE_HOST;
const port = Number(process.env.KUBERNETES_SERVICE_PORT || 443);
const started = Date.now();
function fail(reason) {
  const message = ${JSON.stringify(GATE_MESSAGE_PREFIX)} + ' ' + reason;
  try { fs.writeFileSync('/dev/termination-log', message); } catch {}
  process.stderr.write(message + '\\n');
  process.exit(${GATE_EXIT_CODE});
}
// No API server address at all: nothing to probe with; the tenant check still ran.
if (!host) process.exit(0);
function attempt() {
  const socket = net.connect({ host, port, timeout: 250 });
  const blocked = () => { socket.destroy(); process.exit(0); };
  socket.on('connect', () => {
    socket.destroy();
    if (Date.now() - started > ${timeoutMs}) fail('egress was still open after ${timeoutMs} ms: the NetworkPolicy is not enforced for this pod');
    else setTimeout(attempt, 50);
  });
  socket.on('timeout', blocked);
  socket.on('error', blocked);
}
attempt();
`;
}

/** The gate's refusal once its budget is spent: the same text from either twin. */
function openEgressReason(timeoutMs: number): string {
  return `egress was still open after ${timeoutMs} ms: the NetworkPolicy is not enforced for this pod`;
}

/**
 * The Python 3.9+ (stdlib only) twin of gateSource, for images without node: same
 * probe (250 ms connect timeout, 50 ms between attempts), same exit codes, same
 * termination message, same stderr line.
 */
export function pythonGateSource(timeoutMs: number): string {
  return `
import os, socket, sys, time
host = os.environ.get('KUBERNETES_SERVICE_HOST')
started = time.monotonic()
def fail(reason):
    message = ${JSON.stringify(GATE_MESSAGE_PREFIX)} + ' ' + reason
    try:
        with open('/dev/termination-log', 'w') as log:
            log.write(message)
    except Exception:
        pass
    sys.stderr.write(message + '\\n')
    sys.stderr.flush()
    sys.exit(${GATE_EXIT_CODE})
# No API server address at all: nothing to probe with; the tenant check still ran.
if not host:
    sys.exit(0)
port = int(os.environ.get('KUBERNETES_SERVICE_PORT') or 443)
while True:
    try:
        socket.create_connection((host, port), timeout=0.25).close()
    except OSError:
        sys.exit(0)
    if (time.monotonic() - started) * 1000 > ${timeoutMs}:
        fail(${JSON.stringify(openEgressReason(timeoutMs))})
    time.sleep(0.05)
`;
}

/** What podCommand needs to run the gate with `interpreter` (spread it into PodCommandOptions). */
export interface GateCommand {
  gateSource: string;
  gateInterpreter: Interpreter;
}

export function gateCommand(options: { interpreter: Interpreter; timeoutMs: number }): GateCommand {
  const interpreter = checkInterpreter('interpreter', options.interpreter);
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs < 0)
    throw new InvalidRequestError('timeoutMs', options.timeoutMs, 'must be a finite number of milliseconds >= 0');
  return {
    gateSource: interpreter === 'node' ? gateSource(options.timeoutMs) : pythonGateSource(options.timeoutMs),
    gateInterpreter: interpreter,
  };
}
