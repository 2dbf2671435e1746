/** The broker daemon's channel failed, or the daemon refused a command; says which and why. */
export class BrokerDaemonError extends Error {
  override readonly name = 'BrokerDaemonError';

  constructor(detail: string, options?: { cause?: unknown }) {
    super(`egress broker daemon: ${detail}`, options);
  }
}
