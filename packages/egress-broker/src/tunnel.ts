import type { Socket } from 'node:net';
import type { Attempt } from './attempt.js';
import type { Authorised } from './authorise.js';
import type { Broker } from './broker.js';
import { dial } from './dial.js';
import { readFirstBytes, type FirstBytes } from './first-bytes.js';
import type { HttpFront } from './http-front.js';
import { Relay } from './relay.js';

/** How long a tunnel waits for the client's first bytes before dialling anyway. */
export const PEEK_TIMEOUT_MS = 2_000;

export interface TunnelParams {
  readonly broker: Broker;
  readonly http: HttpFront;
  readonly attempt: Attempt;
  /** The sandbox's socket, already answered (200 / SOCKS success) where the protocol needs it. */
  readonly client: Socket;
  /** Bytes that arrived after the request that opened the tunnel. */
  readonly initial: Buffer;
  readonly target: Authorised;
  readonly requestedPort: number;
  /** For denial reasons: "CONNECT target api.example.com". */
  readonly describeTarget: string;
}

/**
 * An allowed connection: the client's first bytes are judged before any goes
 * upstream (a ClientHello's SNI, or an HTTP request's Host, must name the
 * target), then bytes are relayed to the pinned address under the caps.
 */
export async function runTunnel(params: TunnelParams): Promise<void> {
  const { broker, attempt, client, target } = params;
  let upstream: Socket | undefined;
  let relay: Relay | undefined;
  let finished = false;
  const finish = (verdict: 'allowed' | 'denied', reason?: string) => {
    if (finished) return;
    finished = true;
    clearTimeout(lifetime);
    target.release();
    relay?.stop(reason);
    client.destroy();
    upstream?.destroy();
    attempt.end(verdict, reason);
  };
  const lifetime = setTimeout(() => finish('allowed', 'cap maxConnectionMs reached'), broker.caps.caps.maxConnectionMs);
  // Also ends a tunnel handed to the HTTP path; its attempt was discarded if any request made its own record.
  client.once('close', () =>
    finish('allowed', upstream || relay ? undefined : 'client closed before any byte went upstream'),
  );

  const connectUpstream = async (): Promise<Relay | undefined> => {
    try {
      upstream = broker.track(await dial(target.address, target.port));
    } catch (error) {
      finish('allowed', `upstream: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
    if (finished) {
      upstream.destroy();
      return undefined;
    }
    const started = new Relay(broker, attempt, client, upstream);
    void started.done.then((reason) => finish('allowed', reason));
    started.startDown();
    return started;
  };

  let first: FirstBytes = await readFirstBytes(client, params.initial, PEEK_TIMEOUT_MS);
  if (finished) return;
  if (first.kind === 'silent') {
    // A server-speaks-first protocol: connect now, and still judge the client's first bytes when they come.
    relay = await connectUpstream();
    if (!relay) return;
    first = await readFirstBytes(client, Buffer.alloc(0));
    if (finished) return;
  }
  switch (first.kind) {
    case 'silent':
    case 'closed':
      return finish('allowed', relay ? undefined : 'client closed before any byte went upstream');
    case 'bad':
      return finish('denied', first.reason);
    case 'tls':
      if (first.sni !== undefined) attempt.set({ sni: first.sni });
      if (target.name !== undefined && first.sni !== undefined && first.sni !== target.name) {
        return finish('denied', `SNI ${first.sni} does not match ${params.describeTarget}`);
      }
      break;
    case 'http':
      if (target.name === undefined) break;
      // A connection made while the client was silent carried nothing up yet; requests make their own.
      relay?.abandonUpstream();
      relay = undefined;
      upstream = undefined;
      return handOverToHttp(params, target.name, first.bytes);
    case 'other':
      break;
  }
  relay ??= await connectUpstream();
  relay?.startUp(first.bytes, first.ended);
}

/** Plain HTTP in a tunnel runs through the request-checking path: every request's Host must name the target. */
function handOverToHttp(params: TunnelParams, name: string, bytes: Buffer): void {
  const { attempt, target } = params;
  params.http.adoptTunnel(params.client, bytes, {
    path: attempt.path,
    name,
    requestedPort: params.requestedPort,
    address: target.address,
    port: target.port,
    rule: attempt.fields.rule,
    attempt,
  });
}
