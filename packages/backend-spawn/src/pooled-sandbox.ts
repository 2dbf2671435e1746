import type { WarmMember } from '@cordon/core/backend';
import type { SandboxEgress } from './sandbox-egress.js';
import type { SandboxProcess } from './sandbox-process.js';

/**
 * A pool member: a kernel sandbox whose runner waits in its cgroup and, where the
 * executor observes its network (an allow-list member; a network-none member on a host
 * with the egress tools), its namespace's forwarder already running, dialling a broker
 * socket nothing listens on yet. The execution that takes it binds its own session
 * there; the member is used once and never returns.
 */
export class PooledSandbox implements WarmMember {
  readonly id: string;
  readonly sandbox: SandboxProcess;
  readonly egress: SandboxEgress | undefined;
  /** Either half dying ends the member: without its forwarder its network is not as promised. */
  readonly ended: Promise<unknown>;

  constructor(params: { sandbox: SandboxProcess; egress?: SandboxEgress | undefined }) {
    this.id = params.sandbox.id;
    this.sandbox = params.sandbox;
    this.egress = params.egress;
    this.ended = params.egress
      ? Promise.race([params.sandbox.ended, params.egress.forwarderEnded])
      : params.sandbox.ended;
  }

  get alive(): boolean {
    return this.sandbox.alive && (this.egress?.forwarderAlive ?? true);
  }

  /** Kills the sandbox (its cgroup holds the forwarder too), then stops the forwarder and removes the session dir. */
  async release(): Promise<void> {
    try {
      await this.sandbox.release();
    } finally {
      await this.egress?.close();
    }
  }
}
