import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

/** An HTTP canary on the host's loopback (the broker, on the host's network, reaches it): every request's path, in order. */
export interface PathCanary {
  /** Set once the suite's beforeAll ran. */
  port: number;
  readonly seen: string[];
}

/** Starts the canary before the file's tests and stops it after them. */
export function pathCanaryForSuite(): PathCanary {
  const canary: PathCanary = { port: 0, seen: [] };
  let server: Server | undefined;
  beforeAll(async () => {
    server = createServer((request, response) => {
      canary.seen.push(request.url ?? '');
      response.end(`canary saw ${request.url ?? ''}`);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    canary.port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });
  return canary;
}
