/**
 * A network policy plugin programs a new pod's rules a moment after the pod starts
 * (kube-router on the test cluster: about 0.6-0.9 s during which everything was
 * reachable). So a sandbox pod's first process is this gate: it keeps trying to
 * reach the API server's service address, reachable from any unpoliced pod, and
 * hands over to the runner only once that is blocked. If it is still reachable after
 * the gate's time budget, the pod exits with GATE_EXIT_CODE and its termination
 * message says why: the execution is refused, never run unguarded.
 */
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
