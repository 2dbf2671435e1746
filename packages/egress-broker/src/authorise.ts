import { isIP } from 'node:net';
import { decideAddress, decideName, normalizeHostName } from '@cordon/core';
import type { Attempt } from './attempt.js';
import type { Broker } from './broker.js';
import { printable, unbracket } from './names.js';
import { pinAddress } from './resolve.js';

export interface Authorised {
  readonly ok: true;
  /** The pinned destination. */
  readonly address: string;
  readonly port: number;
  /** Set when a name rule allowed it: the name a TLS SNI or HTTP Host must equal. */
  readonly name?: string;
  /** Gives the connection slot back; call once when the connection ends. */
  readonly release: () => void;
}
export interface Refused {
  readonly ok: false;
  readonly reason: string;
}

/**
 * Judges one connection target (a name, an IP literal, or a synthetic address the
 * session's DNS handed out), takes a connection slot and pins the address. Fills
 * the attempt's host, address, port and rule as it learns them.
 */
export async function authorise(
  broker: Broker,
  attempt: Attempt,
  target: { host: string; port: number },
): Promise<Authorised | Refused> {
  const { policy } = broker;
  const { port } = target;
  attempt.set({ port });
  if (!policy) {
    attempt.set({ host: printable(target.host) });
    return { ok: false, reason: 'network mode is none' };
  }
  const literal = unbracket(target.host);
  const behindSynthetic = isIP(literal) ? broker.synthetic.nameFor(literal) : undefined;
  if (isIP(literal) && behindSynthetic === undefined) {
    attempt.set({ address: literal });
    const decision = decideAddress(policy, literal, port);
    if (!decision.allowed) return { ok: false, reason: decision.reason };
    attempt.set({ rule: decision.rule });
    return reserve(broker, attempt, { address: literal, port });
  }
  const name = behindSynthetic ?? normalizeHostName(literal);
  if (name === undefined) {
    attempt.set({ host: printable(target.host) });
    return { ok: false, reason: `${printable(target.host, 80)} is not a valid host name` };
  }
  attempt.set({ host: name });
  const decision = decideName(policy, name, port);
  if (!decision.allowed) return { ok: false, reason: decision.reason };
  attempt.set({ rule: decision.rule });
  const slot = reserve(broker, attempt, { address: '', port, name });
  if (!slot.ok) return slot;
  const pinned = await pinAddress({ policy, name, port, resolver: broker.resolver });
  if (!pinned.ok || broker.closed) {
    slot.release();
    attempt.set({ rule: undefined });
    return { ok: false, reason: pinned.ok ? 'session closed' : pinned.reason };
  }
  // The port stays the one asked for: only a test override dials another.
  attempt.set({ address: pinned.address });
  return { ...slot, address: pinned.address, port: pinned.port };
}

function reserve(
  broker: Broker,
  attempt: Attempt,
  target: { address: string; port: number; name?: string },
): Authorised | Refused {
  const refusal = broker.caps.reserveConnection();
  if (refusal !== undefined) {
    attempt.set({ rule: undefined });
    return { ok: false, reason: refusal };
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    broker.caps.release();
  };
  return { ok: true, ...target, release };
}
