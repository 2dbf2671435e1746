import { SANDBOX_UID_RANGE, sandboxUidLeases } from '@cordon/core/backend';

/** `per-sandbox`: a host uid (and gid) of its own for each sandbox; a number: that id for every sandbox. */
export type SandboxIdChoice = 'per-sandbox' | number;

/**
 * One fixed uid for every sandbox of a shared-uid positive control (conformance, tests):
 * just below the lease range, so no tenant ever has it and starving it starves no one
 * else (65534, the old shared uid, is also every host's `nobody`).
 */
export const SHARED_CONTROL_UID = SANDBOX_UID_RANGE.first - 1;

/** The host user one sandbox runs as (the host process being root), held until the sandbox is dead. */
export interface SandboxUser {
  readonly uid: number;
  readonly gid: number;
  release(): Promise<void>;
}

/**
 * A uid of its own per sandbox keeps tenants apart in everything the kernel counts
 * per user (inotify instances and watches, message-queue bytes, pipe pages, pending
 * signals, processes): the lease makes it unique on the machine, across processes
 * and backends. A per-sandbox gid is the same number as the uid.
 */
export async function acquireSandboxUser(choice: { uid: SandboxIdChoice; gid: SandboxIdChoice }): Promise<SandboxUser> {
  const lease = choice.uid === 'per-sandbox' ? await sandboxUidLeases().acquire() : undefined;
  const uid = lease?.uid ?? (choice.uid as number);
  const gid = choice.gid === 'per-sandbox' ? uid : choice.gid;
  return { uid, gid, release: () => lease?.release() ?? Promise.resolve() };
}
