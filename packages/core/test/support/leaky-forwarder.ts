import { isIP, createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EgressRecord, EgressPath } from '../../src/egress/audit.js';
import { cidrRuleFor, decideAddress, decideName } from '../../src/egress/decide.js';
import { deniedRange } from '../../src/egress/deny-set.js';
import type { AllowNetworkPolicy, EgressDecision } from '../../src/egress/policy-types.js';

/**
 * How a test-only forwarder is broken. `forwards-everything`: its audit judges
 * each attempt by the policy, truthfully-looking, but every byte goes through
 * anyway. `audit-claims-all-allowed`: it does drop what the name and address
 * rules deny, each proxied request on its own and a connection whose first bytes
 * (SNI, Host) do not contain its name (not caps), and its audit says every
 * attempt was allowed.
 */
export type BrokenEgress = 'forwards-everything' | 'audit-claims-all-allowed';

/** Ports a name's loopback address listens on: the ones the egress checks dial by name. */
const NAME_PORTS = [80, 443] as const;
const MAX_HEAD_BYTES = 64 * 1024;
/** How much of a connection's start, and how long, the name check waits for. */
const FIRST_BYTES_MAX = 16 * 1024;
const FIRST_BYTES_WAIT_MS = 1_000;

interface Target {
  readonly address: string;
  readonly port: number;
}

/**
 * DELIBERATELY BROKEN egress for one run on the host: every name of the policy's
 * resolve override gets a loopback address of its own (`127.77.<block>.<n>`,
 * written to the run's hosts file), listening on 80 and 443, and forwarding to
 * the override's address; `proxy` serves the run's HTTP proxy connections
 * (CONNECT and absolute URIs). Connects only to the override's addresses and to
 * IP literals the program names (the suite's canaries on loopback). Never shipped.
 */
export class LeakyForwarder {
  readonly #records: EgressRecord[] = [];
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #addresses = new Map<string, string>();

  constructor(
    private readonly policy: AllowNetworkPolicy,
    private readonly broken: BrokenEgress,
    block: number,
  ) {
    let n = 0;
    for (const name of policy.resolve?.keys() ?? []) this.#addresses.set(name, `127.77.${block}.${++n}`);
  }

  /** Lines for /etc/hosts: each override name at its loopback address. */
  hostsFile(): string {
    const lines = ['127.0.0.1 localhost', '::1 localhost'];
    for (const [name, address] of this.#addresses) lines.push(`${address} ${name}`);
    return `${lines.join('\n')}\n`;
  }

  async start(): Promise<void> {
    for (const [name, address] of this.#addresses)
      for (const port of NAME_PORTS) {
        const server = createServer((socket) => this.#relay(socket, 'captured', name, port));
        this.#servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: address, port }, resolve);
        });
      }
  }

  /** One connection to the run's HTTP proxy: `CONNECT host:port` or an absolute-URI request, then raw relay. */
  proxy(socket: Socket): void {
    this.#track(socket);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const line = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const connectTarget = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(line)?.[1];
      const uri = /^[A-Z]+ http:\/\/([^/\s]+)\S* HTTP\/1\.[01]$/.exec(line)?.[1];
      const hostPort = splitHostPort(connectTarget ?? uri ?? '', connectTarget ? 443 : 80);
      if (!hostPort) {
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
        return;
      }
      if (connectTarget) this.#relay(socket, 'proxy-connect', hostPort.host, hostPort.port, true);
      else this.#proxyRequests(socket, hostPort, head);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  }

  audit(): { records: EgressRecord[]; dropped: number } {
    return { records: [...this.#records], dropped: 0 };
  }

  /** Lets connections the program left finish closing (their records come on close), then ends the rest. */
  async close(): Promise<void> {
    for (let waitedMs = 0; this.#sockets.size > 0 && waitedMs < 1_000; waitedMs += 50) await sleep(50);
    for (const socket of this.#sockets) socket.destroy();
    await sleep(10);
    await Promise.all(this.#servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** What the policy says of `host:port`, and where the bytes would go. */
  #judge(host: string, port: number): { decision: EgressDecision; target?: Target } {
    if (isIP(host)) return { decision: decideAddress(this.policy, host, port), target: { address: host, port } };
    const entry = this.policy.resolve?.get(host);
    const decision = decideName(this.policy, host, port);
    if (!entry) return { decision: { allowed: false, reason: `${host} has no address in the resolve override` } };
    const target = { address: entry.address, port: entry.port ?? port };
    const range = entry.denySet === 'apply' ? deniedRange(entry.address) : undefined;
    if (decision.allowed && range !== undefined && !cidrRuleFor(this.policy, entry.address))
      return { decision: { allowed: false, reason: `${host} resolves only to denied addresses (${range})` }, target };
    return { decision, target };
  }

  /**
   * Plain HTTP through the proxy: every request on the connection goes where the
   * first one went, each on an upstream connection of its own (the canary closes
   * after one answer); `forwards-everything` forwards each, the other drops those
   * its own name's rules deny.
   */
  #proxyRequests(client: Socket, first: { host: string; port: number }, head: Buffer): void {
    const { decision, target } = this.#judge(first.host, first.port);
    if (target === undefined || (this.broken !== 'forwards-everything' && !decision.allowed)) {
      this.#relay(client, 'proxy-http', first.host, first.port);
      return;
    }
    let buffered = head;
    const send = () => {
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const request = buffered.subarray(0, end + 4);
        buffered = buffered.subarray(end + 4);
        const line = request.subarray(0, request.indexOf('\r\n')).toString('latin1');
        const named = splitHostPort(/^[A-Z]+ http:\/\/([^/\s]+)/.exec(line)?.[1] ?? '', 80) ?? first;
        const own = this.#judge(named.host, named.port).decision;
        if (this.broken !== 'forwards-everything' && !own.allowed) {
          this.#push('proxy-http', named.host, named.port, target, own, Date.now(), request.length, 0);
          continue;
        }
        const upstream = connect({ host: target.address, port: target.port });
        this.#track(upstream);
        const started = Date.now();
        upstream.on('error', () => undefined);
        upstream.once('connect', () => upstream.write(request));
        let bytesDown = 0;
        upstream.on('data', (chunk: Buffer) => {
          bytesDown += chunk.length;
          if (client.writable) client.write(chunk);
        });
        upstream.once('close', () => {
          this.#push('proxy-http', named.host, named.port, target, own, started, request.length, bytesDown);
          if (/\r\nConnection: close\r\n/i.test(request.toString('latin1'))) client.end();
        });
      }
    };
    client.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      send();
    });
    client.once('end', () => client.end());
    client.resume();
    send();
  }

  #push(
    path: EgressPath,
    host: string,
    port: number,
    target: Target | undefined,
    decision: EgressDecision,
    started: number,
    bytesUp: number,
    bytesDown: number,
  ): void {
    const truthful = this.broken === 'forwards-everything';
    this.#records.push({
      at: new Date(started).toISOString(),
      path,
      ...(isIP(host) ? {} : { host }),
      ...(target ? { address: target.address } : isIP(host) ? { address: host } : {}),
      port,
      verdict: !truthful || decision.allowed ? 'allowed' : 'denied',
      ...(decision.allowed ? { rule: decision.rule } : truthful ? { reason: decision.reason } : {}),
      bytesUp,
      bytesDown,
      durationMs: Date.now() - started,
    });
  }

  #relay(client: Socket, path: EgressPath, host: string, port: number, tunnel = false): void {
    this.#track(client);
    client.on('error', () => undefined);
    const started = Date.now();
    const { decision, target } = this.#judge(host, port);
    const forward = target !== undefined && (this.broken === 'forwards-everything' || decision.allowed);
    let bytesUp = 0;
    let bytesDown = 0;
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      this.#push(path, host, port, target, decision, started, bytesUp, bytesDown);
    };
    if (!forward) {
      record();
      if (path === 'captured') client.destroy();
      else
        client.end(`HTTP/1.1 403 Forbidden\r\nX-Cordon-Denied: ${decision.allowed ? 'unreachable' : 'denied'}\r\n\r\n`);
      return;
    }
    const open = (first?: Buffer) => {
      const upstream = connect({ host: target.address, port: target.port });
      this.#track(upstream);
      upstream.on('error', () => client.destroy());
      upstream.once('connect', () => {
        if (tunnel && first === undefined) client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (first) {
          bytesUp += first.length;
          upstream.write(first);
        }
        client.on('data', (chunk: Buffer) => {
          bytesUp += chunk.length;
          upstream.write(chunk);
        });
        upstream.on('data', (chunk: Buffer) => {
          bytesDown += chunk.length;
          client.write(chunk);
        });
        client.resume();
      });
      client.once('end', () => upstream.end());
      upstream.once('end', () => client.end());
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    };
    client.once('close', record);
    if (this.broken === 'forwards-everything' || isIP(host)) {
      open();
      return;
    }
    // Its one check past the name: the first bytes (a TLS SNI, a Host header) must contain the approved name.
    // A client may send them in more than one write: gathered until the name shows, or a
    // header's end, FIRST_BYTES_MAX or FIRST_BYTES_WAIT_MS says it will not.
    if (tunnel) client.write('HTTP/1.1 200 Connection established\r\n\r\n');
    let first = Buffer.alloc(0);
    const decide = (approved: boolean) => {
      clearTimeout(timer);
      client.off('data', onFirst);
      client.pause();
      if (approved) open(first);
      else client.destroy();
    };
    const onFirst = (chunk: Buffer) => {
      first = Buffer.concat([first, chunk]);
      if (first.includes(host)) decide(true);
      else if (first.length >= FIRST_BYTES_MAX || first.includes('\r\n\r\n')) decide(false);
    };
    const timer = setTimeout(() => decide(false), FIRST_BYTES_WAIT_MS);
    client.on('data', onFirst);
    client.resume();
  }
}

function splitHostPort(text: string, defaultPort: number): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(text);
  if (!match) return undefined;
  return { host: match[1] ?? match[2] ?? '', port: match[3] ? Number(match[3]) : defaultPort };
}
