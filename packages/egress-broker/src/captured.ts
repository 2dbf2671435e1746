import type { Socket } from 'node:net';
import { authorise } from './authorise.js';
import type { Broker } from './broker.js';
import type { HttpFront } from './http-front.js';
import { runTunnel } from './tunnel.js';

/**
 * A connection that ignored every proxy setting, captured in the sandbox: to a
 * synthetic address it is judged by the name behind it (and SNI / Host must name
 * it too); to any other address by CIDR rules only.
 */
export async function handleCaptured(
  broker: Broker,
  http: HttpFront,
  socket: Socket,
  initial: Buffer,
  dialled: { address: string; port: number },
): Promise<void> {
  const attempt = broker.attempt('captured');
  const allowed = await authorise(broker, attempt, { host: dialled.address, port: dialled.port });
  if (!allowed.ok) {
    attempt.end('denied', allowed.reason);
    return void socket.destroy();
  }
  if (socket.destroyed) {
    allowed.release();
    return attempt.end('allowed', 'client closed');
  }
  await runTunnel({
    broker,
    http,
    attempt,
    client: socket,
    initial,
    target: allowed,
    requestedPort: dialled.port,
    describeTarget: allowed.name ? `the name behind ${dialled.address}, ${allowed.name}` : dialled.address,
  });
}
