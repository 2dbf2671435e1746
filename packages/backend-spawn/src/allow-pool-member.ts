import type { WarmMember } from '@cordon/core/backend';
import type { SandboxEgress } from './sandbox-egress.js';
import type { SandboxProcess } from './sandbox-process.js';

/**
 * An allow-list pool member: a kernel sandbox of network shape 'allow' whose runner waits
 * in its cgroup, with its namespace already routed to a running forwarder that dials a
 * broker socket nothing listens on yet. The execution that takes it binds its own
 * session there; the member is used once and never returns.
 */
export class AllowPoolMember implements WarmMember {
  readonly id: string;
  readonly sandbox: SandboxProcess;
  readonly egress: SandboxEgress;
  /** Either half dying ends the member: without its forwarder a sandbox has no way out at all. */
  readonly ended: Promise<unknown>;

  constructor(params: { sandbox: SandboxProcess; egress: SandboxEgress }) {
    this.id = params.sandbox.id;
    this.sandbox = params.sandbox;
    this.egress = params.egress;
    this.ended = Promise.race([params.sandbox.ended, params.egress.forwarderEnded]);
  }

  get alive(): boolean {
    return this.sandbox.alive && this.egress.forwarderAlive;
  }

  /** Kills the sandbox (its cgroup holds the forwarder too), then stops the forwarder and removes the session dir. */
  async release(): Promise<void> {
    try {
      await this.sandbox.release();
    } finally {
      await this.egress.close();
    }
  }
}
