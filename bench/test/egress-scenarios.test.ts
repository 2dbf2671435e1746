import { get } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestCheck, requestProgram } from '../src/egress-scenarios.js';
import { DOWNLOAD_BYTES, SMALL_BODY, startEgressServer, type EgressServer } from '../src/egress-server.js';
import { runCommand } from '../src/run-command.js';

let server: EgressServer;
beforeAll(async () => {
  server = await startEgressServer();
});
afterAll(async () => {
  await server?.close();
});

function fetchBytes(path: string): Promise<{ status: number | undefined; bytes: number }> {
  return new Promise((resolve, reject) => {
    get(`https://127.0.0.1:${server.port}${path}`, { rejectUnauthorized: false, agent: false }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ status: response.statusCode, bytes }));
    }).on('error', reject);
  });
}

describe('egress scenarios: the loopback HTTPS server', () => {
  it('serves the small answer and 10 MiB over TLS, and 404 otherwise', async () => {
    expect(await fetchBytes('/small')).toEqual({ status: 200, bytes: SMALL_BODY.length });
    expect(await fetchBytes('/download')).toEqual({ status: 200, bytes: DOWNLOAD_BYTES });
    expect((await fetchBytes('/other')).status).toBe(404);
  });
});

describe('egress scenarios: the request program', () => {
  it('reports status, bytes and its own timing, which the check accepts', async () => {
    const outcome = await runCommand(
      process.execPath,
      ['-e', requestProgram(`https://127.0.0.1:${server.port}/download`)],
      30_000,
      { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    );
    expect(outcome.stderr).toBe('');
    const check = requestCheck(DOWNLOAD_BYTES)(outcome.stdout);
    expect(check.ok).toBe(true);
    expect(check.ok && check.innerMs).toBeGreaterThan(0);
  });

  it('fails a run with the wrong size, a bad status or no report', () => {
    const check = requestCheck(DOWNLOAD_BYTES);
    expect(check(JSON.stringify({ status: 200, bytes: 10, ms: 5 }))).toMatchObject({ ok: false });
    expect(check(JSON.stringify({ status: 403, bytes: DOWNLOAD_BYTES, ms: 5 }))).toMatchObject({ ok: false });
    const empty = check('');
    expect(empty.ok).toBe(false);
    expect(empty.ok ? '' : empty.problem).toContain('unexpected stdout');
  });
});
