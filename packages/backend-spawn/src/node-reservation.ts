import { spawnSync } from 'node:child_process';
import { debug } from '@cordon/core/backend';

/**
 * Writable private address space a Node binary holds right after start (VmData), which
 * RLIMIT_DATA counts whether touched or not. Node ≤ 22 holds ~50 MiB; Node 24's V8 reserves
 * its code range up front, ~570 MiB, so a data limit below that stops Node at start
 * ("Failed to reserve virtual memory for CodeRange"). Measured once per binary; 0 if unknown.
 */
const cache = new Map<string, number>();

export function nodeReservedDataBytes(nodePath: string): number {
  let bytes = cache.get(nodePath);
  if (bytes === undefined) {
    const result = spawnSync(
      nodePath,
      [
        '-e',
        "process.stdout.write(/^VmData:\\s*(\\d+) kB/m.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])",
      ],
      { encoding: 'utf8', timeout: 10_000, env: { PATH: '/usr/bin:/bin' } },
    );
    bytes = result.status === 0 && /^\d+$/.test(result.stdout) ? Number(result.stdout) * 1024 : 0;
    debug('spawn.rlimit', () => `${nodePath} holds ${bytes} bytes of data at start`);
    cache.set(nodePath, bytes);
  }
  return bytes;
}

/** Above this, RLIMIT_DATA cannot bound node code: the limit would have to exceed the request by that much for Node to start. */
export const RLIMIT_DATA_OVERHEAD_LIMIT_BYTES = 256 * 1024 * 1024;
