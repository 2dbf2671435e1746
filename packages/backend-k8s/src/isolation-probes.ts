import type { Interpreter } from './interpreter.js';

/**
 * The isolation check's two small programs, each in a node and a Python 3.9+ (stdlib
 * only) twin with the same observable behaviour: the same lines on stdout, the same
 * exit codes, the same timings. Which one runs depends on what the image has.
 */

export const CANARY_TCP_PORT = 8080;
export const CANARY_UDP_PORT = 8053;

export interface CanaryPorts {
  /** Default CANARY_TCP_PORT; other values are for local tests. */
  tcpPort?: number;
  /** Default CANARY_UDP_PORT. */
  udpPort?: number;
}

export interface CanaryOptions extends CanaryPorts {
  /** Default every address (the pod's IP); local tests use 127.0.0.1. */
  bindHost?: string;
}

/** Logs `tcp <line>` for every TCP chunk (answering `ok`) and `udp <line>` for every datagram. */
export function canarySource(interpreter: Interpreter, options: CanaryOptions = {}): string {
  const tcpPort = options.tcpPort ?? CANARY_TCP_PORT;
  const udpPort = options.udpPort ?? CANARY_UDP_PORT;
  const bindHost = JSON.stringify(options.bindHost ?? '0.0.0.0');
  if (interpreter === 'node')
    return `
const net = require('node:net'); const dgram = require('node:dgram');
net.createServer((socket) => { socket.on('error', () => {}); socket.on('data', (data) => { process.stdout.write('tcp ' + data.toString().trim() + '\\n'); socket.end('ok\\n'); }); }).listen(${tcpPort}, ${bindHost});
const udp = dgram.createSocket('udp4'); udp.on('message', (data) => process.stdout.write('udp ' + data.toString().trim() + '\\n')); udp.bind(${udpPort}, ${bindHost});
setInterval(() => {}, 1 << 30);
`;
  // Threads, not asyncio: the same on 3.9 as on 3.13, and a blocking read is the whole job.
  return `
import socket, sys, threading
lock = threading.Lock()
def log(kind, data):
    line = kind + ' ' + data.decode('utf-8', 'replace').strip() + '\\n'
    with lock:
        sys.stdout.write(line)
        sys.stdout.flush()
def serve(conn):
    ended = False
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            log('tcp', data)
            if not ended:
                ended = True
                conn.sendall(b'ok\\n')
                conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()
def accept(server):
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
def receive(udp):
    while True:
        try:
            data, _ = udp.recvfrom(65536)
        except OSError:
            continue
        log('udp', data)
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((${bindHost}, ${tcpPort}))
server.listen(511)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((${bindHost}, ${udpPort}))
threading.Thread(target=accept, args=(server,), daemon=True).start()
threading.Thread(target=receive, args=(udp,), daemon=True).start()
threading.Event().wait()
`;
}

export interface SenderSpec extends CanaryPorts {
  host: string;
  nonce: string;
  /** Retry TCP (300 ms apart, for 30 s) until the canary answers; else one attempt. */
  untilAnswered: boolean;
}

/**
 * Sends the nonce over TCP (3 s idle timeout; retrying until answered, or once) and as
 * 5 UDP datagrams 200 ms apart; 1.2 s after the TCP outcome prints `reached` or
 * `missed` and exits 0.
 */
export function senderSource(interpreter: Interpreter, spec: SenderSpec): string {
  const tcpPort = spec.tcpPort ?? CANARY_TCP_PORT;
  const udpPort = spec.udpPort ?? CANARY_UDP_PORT;
  const host = JSON.stringify(spec.host);
  const nonce = JSON.stringify(spec.nonce);
  if (interpreter === 'node')
    return `
const net = require('node:net'); const dgram = require('node:dgram');
const udp = dgram.createSocket('udp4'); udp.on('error', () => {});
for (let i = 0; i < 5; i++) setTimeout(() => udp.send(Buffer.from(${nonce}), ${udpPort}, ${host}, () => {}), i * 200);
const started = Date.now();
function attempt() {
  const socket = net.connect({ host: ${host}, port: ${tcpPort}, timeout: 3000 });
  let answered = false;
  socket.on('connect', () => socket.write(${nonce} + '\\n'));
  socket.on('data', () => { answered = true; socket.end(); });
  const retry = () => { socket.destroy(); if (!answered && ${spec.untilAnswered} && Date.now() - started < 30000) setTimeout(attempt, 300); else done(answered); };
  socket.on('timeout', retry); socket.on('error', retry); socket.on('close', () => { if (answered) done(true); });
}
let finished = false;
function done(ok) { if (finished) return; finished = true; setTimeout(() => { udp.close(); process.stdout.write(ok ? 'reached\\n' : 'missed\\n'); process.exit(0); }, 1200); }
attempt();
`;
  // JSON string literals are Python string literals too (host and nonce are plain ASCII here).
  return `
import os, socket, sys, threading, time
host = ${host}
nonce = ${nonce}
started = time.monotonic()
def send_udp():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(5):
        time.sleep(max(0.0, started + i * 0.2 - time.monotonic()))
        try:
            udp.sendto(nonce.encode(), (host, ${udpPort}))
        except OSError:
            pass
threading.Thread(target=send_udp, daemon=True).start()
def attempt():
    # Like node's socket timeout: 3 s without progress, connecting or waiting for the answer.
    # Returns True (answered), False (timeout or error) or None (closed unanswered: node neither
    # retries nor finishes then, so neither does this twin).
    try:
        conn = socket.create_connection((host, ${tcpPort}), timeout=3)
    except OSError:
        return False
    try:
        conn.sendall((nonce + '\\n').encode())
        if not conn.recv(65536):
            conn.close()
            return None
    except OSError:
        conn.close()
        return False
    try:
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()
    return True
while True:
    outcome = attempt()
    if outcome is None:
        threading.Event().wait()
    if not outcome and ${spec.untilAnswered ? 'True' : 'False'} and (time.monotonic() - started) < 30:
        time.sleep(0.3)
        continue
    break
time.sleep(1.2)
sys.stdout.write('reached\\n' if outcome else 'missed\\n')
sys.stdout.flush()
os._exit(0)
`;
}
