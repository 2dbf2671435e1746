import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { debug } from '@cordon/core/backend';

/**
 * Writable private address space a Node binary holds right after start (VmData), which
 * RLIMIT_DATA counts whether touched or not. Node ≤ 22 holds ~50 MiB; Node 24's V8 reserves
 * its code range up front, ~570 MiB, so a data limit below that stops Node at start
 * ("Failed to reserve virtual memory for CodeRange"). Measured once per binary; 0 if unknown.
 */
const cache = new Map<string, Promise<number>>();

function nodeReservedDataBytes(nodePath: string): Promise<number> {
  let bytes = cache.get(nodePath);
  if (bytes === undefined) {
    bytes = promisify(execFile)(
      nodePath,
      [
        '-e',
        "process.stdout.write(/^VmData:\\s*(\\d+) kB/m.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])",
      ],
      { encoding: 'utf8', timeout: 10_000, env: { PATH: '/usr/bin:/bin' } },
    ).then(
      ({ stdout }) => (/^\d+$/.test(stdout) ? Number(stdout) * 1024 : 0),
      () => 0,
    );
    void bytes.then((measured) => debug('spawn.rlimit', () => `${nodePath} holds ${measured} bytes of data at start`));
    cache.set(nodePath, bytes);
  }
  return bytes;
}

/** Above this, RLIMIT_DATA cannot bound node code: the limit would have to exceed the request by that much for Node to start. */
const RLIMIT_DATA_OVERHEAD_LIMIT_BYTES = 256 * 1024 * 1024;

/**
 * What RLIMIT_DATA must add to a request's memoryBytes so this Node can start at all: 0 where
 * its start-up data is small (the limit then bounds memory), else all of it (memory is then unbounded).
 */
export async function rlimitDataAllowanceBytes(nodePath: string): Promise<number> {
  const reserved = await nodeReservedDataBytes(nodePath);
  return reserved > RLIMIT_DATA_OVERHEAD_LIMIT_BYTES ? reserved : 0;
}
