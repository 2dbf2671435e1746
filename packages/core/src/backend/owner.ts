import { randomBytes } from 'node:crypto';

/**
 * Labels every backend puts on what it creates (containers, pods, cgroups, temp
 * directories), so leftovers can be found and reaped by label, and leak checks can
 * be scoped to one owner (the host process that made them).
 */
export const LABELS = {
  managedBy: 'cordon.dev/managed-by',
  owner: 'cordon.dev/owner',
  execution: 'cordon.dev/execution',
  backend: 'cordon.dev/backend',
  /**
   * @deprecated The old name of `owner` (its key then was `cordon.dev/session`); the
   * word "session" is kept for sandboxes that live across requests.
   */
  session: 'cordon.dev/owner',
} as const;

export const MANAGED_BY = 'cordon';

/**
 * The id of this host process, the owner of everything it creates: one per process
 * (override with `CORDON_OWNER_ID`, e.g. to scope a test run; `CORDON_SESSION_ID`,
 * its old name, is still read).
 */
export const OWNER_ID: string =
  process.env.CORDON_OWNER_ID ?? process.env.CORDON_SESSION_ID ?? randomBytes(6).toString('hex');

/** @deprecated The old name of `OWNER_ID`. */
export const SESSION_ID: string = OWNER_ID;

/** A new execution id: 16 lowercase hex characters, valid in labels and DNS names. */
export function newExecutionId(): string {
  return randomBytes(8).toString('hex');
}
