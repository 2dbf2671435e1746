import { randomBytes } from 'node:crypto';

/**
 * Labels every backend puts on what it creates (containers, pods, cgroups, temp
 * directories), so leftovers can be found and reaped by label, and leak checks can
 * be scoped to one process's session.
 */
export const LABELS = {
  managedBy: 'cordon.dev/managed-by',
  session: 'cordon.dev/session',
  execution: 'cordon.dev/execution',
  backend: 'cordon.dev/backend',
} as const;

export const MANAGED_BY = 'cordon';

/** One id per process (override with CORDON_SESSION_ID, e.g. to scope a test run). */
export const SESSION_ID: string = process.env.CORDON_SESSION_ID ?? randomBytes(6).toString('hex');

/** A new execution id: 16 lowercase hex characters, valid in labels and DNS names. */
export function newExecutionId(): string {
  return randomBytes(8).toString('hex');
}
