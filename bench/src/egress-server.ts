import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Bytes the download path serves: 10 MiB. */
export const DOWNLOAD_BYTES = 10 * 1024 * 1024;
/** What the small-request path answers. */
export const SMALL_BODY = 'ok\n';

/** A loopback HTTPS server for the egress scenarios: `/small` answers a few bytes, `/download` 10 MiB. */
export interface EgressServer {
  /** Port on the host it listens on. */
  port: number;
  close(): Promise<void>;
}

/**
 * A self-signed key and certificate made with openssl for this run only (nothing
 * is checked in); the directory holding them is removed before this returns.
 */
async function selfSignedPair(signal?: AbortSignal): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'cordon-bench-egress-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=api.bench.test',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { timeout: 10_000, signal },
    );
    return { key: await readFile(keyPath), cert: await readFile(certPath) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts the server on `host`: 127.0.0.1 (loopback only) unless told (docker's bridge gateway, a host address too). */
export async function startEgressServer(options: { signal?: AbortSignal; host?: string } = {}): Promise<EgressServer> {
  const { key, cert } = await selfSignedPair(options.signal);
  const download = Buffer.alloc(DOWNLOAD_BYTES, 'x');
  const server: Server = createServer({ key, cert }, (request, response) => {
    if (request.url === '/download') {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': DOWNLOAD_BYTES });
      response.end(download);
      return;
    }
    if (request.url === '/small') {
      response.writeHead(200, { 'content-type': 'text/plain', 'content-length': SMALL_BODY.length });
      response.end(SMALL_BODY);
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
