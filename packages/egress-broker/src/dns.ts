import type { Socket } from 'node:net';
import { normalizeHostName } from '@cordon/core';
import dnsPacket from 'dns-packet';
import type { Broker } from './broker.js';
import { isNameListed, printable } from './names.js';

/** A query over 4 KiB is not a query the sandbox needs; the connection is closed. */
const MAX_MESSAGE = 4_096;
const TTL_SECONDS = 60;
const RCODE = { noError: 0, formErr: 1, nxDomain: 3, refused: 5 } as const;

/**
 * The sandbox's only resolver, over DNS-over-TCP framing: listed names get a
 * synthetic A record, everything else NXDOMAIN (or NODATA); never forwarded.
 */
export function handleDns(broker: Broker, socket: Socket, initial: Buffer): void {
  let buffer: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    while (buffer.length >= 2) {
      const length = buffer.readUInt16BE(0);
      if (length < 12 || length > MAX_MESSAGE) return void socket.destroy();
      if (buffer.length < 2 + length) break;
      const message = buffer.subarray(2, 2 + length);
      buffer = buffer.subarray(2 + length);
      const response = answer(broker, message);
      const frame = Buffer.alloc(2 + response.length);
      frame.writeUInt16BE(response.length, 0);
      response.copy(frame, 2);
      if (!socket.write(frame)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    }
  };
  socket.on('data', onData);
  // Idle connections do not stay open.
  socket.setTimeout(30_000, () => socket.destroy());
  socket.on('end', () => socket.end());
  if (initial.length > 0) onData(initial);
  socket.resume();
}

/** One query's response (FORMERR, echoing only the id, when the message does not decode). */
function answer(broker: Broker, message: Buffer): Buffer {
  const attempt = broker.attempt('dns');
  let query: dnsPacket.Packet;
  try {
    query = dnsPacket.decode(message);
  } catch (error) {
    attempt.end('denied', `malformed DNS message (${error instanceof Error ? error.message : 'undecodable'})`);
    return respond(message.readUInt16BE(0), RCODE.formErr, [], []);
  }
  const id = query.id ?? 0;
  const questions = query.questions ?? [];
  const question = questions[0];
  if (query.type !== 'query' || questions.length !== 1 || !question) {
    attempt.end('denied', 'a DNS query carries exactly one question');
    return respond(id, RCODE.formErr, [], []);
  }
  attempt.set({ host: printable(question.name), kind: printable(String(question.type), 16) });
  const reply = (rcode: number, answers: dnsPacket.Answer[] = []) => respond(id, rcode, [question], answers);
  const capped = broker.caps.countDnsQuery();
  if (capped !== undefined) {
    attempt.end('denied', capped);
    return reply(RCODE.refused);
  }
  const name = normalizeHostName(question.name);
  if (name === undefined) {
    attempt.end('denied', 'not a valid host name');
    return reply(RCODE.nxDomain);
  }
  attempt.set({ host: name });
  if (!broker.policy) {
    attempt.end('denied', 'network mode is none');
    return reply(RCODE.nxDomain);
  }
  if (!isNameListed(broker.policy, name)) {
    attempt.end('denied', `${name} is not on the allow-list`);
    return reply(RCODE.nxDomain);
  }
  if (question.class !== 'IN') {
    attempt.end('denied', `class ${printable(String(question.class), 16)} is not served`);
    return reply(RCODE.noError);
  }
  if (question.type === 'AAAA') {
    // No synthetic IPv6: NODATA sends clients to the A answer.
    attempt.end('allowed', 'no IPv6 address is served (NODATA)');
    return reply(RCODE.noError);
  }
  if (question.type !== 'A') {
    attempt.end('denied', `query type ${printable(String(question.type), 16)} is not served`);
    return reply(RCODE.noError);
  }
  const address = broker.synthetic.addressFor(name);
  if (address === undefined) {
    attempt.end('denied', 'synthetic address range exhausted');
    return reply(RCODE.refused);
  }
  attempt.set({ address, rule: ruleFor(broker, name) });
  attempt.end('allowed');
  return reply(RCODE.noError, [{ type: 'A', class: 'IN', name: question.name, ttl: TTL_SECONDS, data: address }]);
}

function ruleFor(broker: Broker, name: string): string | undefined {
  const policy = broker.policy;
  if (!policy) return undefined;
  return policy.rules.find((rule) => isNameListed({ ...policy, rules: [rule] }, name))?.source;
}

function respond(id: number, rcode: number, questions: dnsPacket.Question[], answers: dnsPacket.Answer[]): Buffer {
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | rcode;
  try {
    return dnsPacket.encode({ type: 'response', id, flags, questions, answers });
  } catch {
    // A question whose name cannot be written back: answer without echoing it.
    return dnsPacket.encode({ type: 'response', id, flags, questions: [], answers: [] });
  }
}
