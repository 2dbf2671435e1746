import type { Socket } from 'node:net';
import { authorise } from './authorise.js';
import type { Broker } from './broker.js';
import type { HttpFront } from './http-front.js';
import { SocketReader } from './reader.js';
import { runTunnel } from './tunnel.js';

/** Each handshake step: a real client sends its next message at once. */
const STEP_TIMEOUT_MS = 3_000;

/** SOCKS5 reply codes the broker sends. */
const REPLY = { succeeded: 0x00, notAllowed: 0x02, commandNotSupported: 0x07, addressTypeNotSupported: 0x08 } as const;

/** SOCKS5 (RFC 1928), no authentication, CONNECT only; every target judged like a proxy CONNECT. */
export async function handleSocks(broker: Broker, http: HttpFront, socket: Socket, initial: Buffer): Promise<void> {
  const reader = new SocketReader(socket, initial);
  const greeting = await reader.read(2, STEP_TIMEOUT_MS);
  if (!greeting || greeting[0] !== 0x05) return void socket.destroy();
  const methods = await reader.read(greeting[1] ?? 0, STEP_TIMEOUT_MS);
  if (!methods || !methods.includes(0x00)) return endSoon(socket, Buffer.from([0x05, 0xff]));
  socket.write(Buffer.from([0x05, 0x00]));
  const head = await reader.read(4, STEP_TIMEOUT_MS);
  if (!head || head[0] !== 0x05) return void socket.destroy();
  const attempt = broker.attempt('socks');
  const refuse = (code: number, reason: string) => {
    attempt.end('denied', reason);
    endSoon(socket, reply(code));
  };
  const command = head[1] ?? 0;
  const addressType = head[3] ?? 0;
  let host: string;
  if (addressType === 0x01) {
    const bytes = await reader.read(4, STEP_TIMEOUT_MS);
    if (!bytes) return refuse(REPLY.addressTypeNotSupported, 'truncated SOCKS request');
    host = [...bytes].join('.');
  } else if (addressType === 0x04) {
    const bytes = await reader.read(16, STEP_TIMEOUT_MS);
    if (!bytes) return refuse(REPLY.addressTypeNotSupported, 'truncated SOCKS request');
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
    host = groups.join(':');
  } else if (addressType === 0x03) {
    const length = await reader.read(1, STEP_TIMEOUT_MS);
    const name = length && (await reader.read(length[0] ?? 0, STEP_TIMEOUT_MS));
    if (!name || name.length === 0) return refuse(REPLY.addressTypeNotSupported, 'truncated SOCKS request');
    host = name.toString('latin1');
  } else {
    return refuse(REPLY.addressTypeNotSupported, `SOCKS address type ${addressType} is not supported`);
  }
  const portBytes = await reader.read(2, STEP_TIMEOUT_MS);
  if (!portBytes) return refuse(REPLY.addressTypeNotSupported, 'truncated SOCKS request');
  const port = portBytes.readUInt16BE(0);
  attempt.set({ host, port, kind: command === 0x01 ? 'CONNECT' : `command ${command}` });
  if (command !== 0x01) return refuse(REPLY.commandNotSupported, `SOCKS command ${command} is not supported`);
  if (port === 0) return refuse(REPLY.notAllowed, 'port 0');
  const allowed = await authorise(broker, attempt, { host, port });
  if (!allowed.ok) return refuse(REPLY.notAllowed, allowed.reason);
  const rest = reader.rest();
  if (socket.destroyed) {
    allowed.release();
    return attempt.end('allowed', 'client closed');
  }
  socket.write(reply(REPLY.succeeded));
  await runTunnel({
    broker,
    http,
    attempt,
    client: socket,
    initial: rest,
    target: allowed,
    requestedPort: port,
    describeTarget: `SOCKS target ${allowed.name ?? host}`,
  });
}

/** Sends the last reply; a client that never closes its side is cut a second later. */
function endSoon(socket: Socket, last: Buffer): void {
  socket.end(last);
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/** A reply with an all-zero IPv4 bound address: the broker does not disclose its own. */
function reply(code: number): Buffer {
  return Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}
