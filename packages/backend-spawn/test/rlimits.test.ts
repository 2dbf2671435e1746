import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Without writable cgroups (a developer's laptop: not root, no delegation) limits are
// rlimits. This machine's tests run as root with cgroups, so the path is exercised as
// an unprivileged user in a child process, through the built package.
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const isRoot = process.getuid?.() === 0;
/** Node 24's V8 reserves its code range (~570 MiB) as data at start; Node 20 and 22 hold ~50 MiB. */
const NODE_RESERVES_DATA = Number(process.versions.node.split('.')[0]) >= 24;
const dir = mkdtempSync(join(tmpdir(), 'cordon-spawn-rlimit-test-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = join(dir, 'run.mjs');
writeFileSync(
  script,
  `
const { SpawnExecutor } = await import(${JSON.stringify(dist)});
const executor = await SpawnExecutor.create({});
const accept = ['memoryBytes', 'cpus', 'pids'];
const run = (language, code) => executor.execute({ language, code, acceptUnenforced: accept, limits: { memoryBytes: 256 * 1024 * 1024 } });
const out = { capabilities: executor.capabilities().limits };
out.node = await run('node', 'console.log(1)');
out.nodeBig = await run('node', 'const a = []; try { for (let i = 0; i < 32; i++) a.push(Buffer.alloc(16 << 20, 1)); console.log("allocated " + a.length * 16) } catch (e) { console.log("refused: " + e.message) }');
out.python = await run('python', 'print(1)');
out.pythonBig = await run('python', 'a = []\\ntry:\\n    [a.append(bytearray(16 << 20)) for _ in range(32)]\\n    print("allocated %d" % (len(a) * 16))\\nexcept MemoryError:\\n    print("refused: MemoryError")');
await executor.close();
console.log(JSON.stringify(out));
`,
);

function runUnprivileged(): Record<string, { status: string; stdout: string; stderr: string }> & {
  capabilities: Record<string, string>;
} {
  const command = isRoot
    ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, script]
    : [process.execPath, script];
  const result = spawnSync(command[0]!, command.slice(1), {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir },
  });
  if (result.status !== 0) throw new Error(`the unprivileged run failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as never;
}

describe('without cgroups (unprivileged host user): rlimits', () => {
  const out = runUnprivileged();

  it('reports memory and pids as rlimit (memory none where Node reserves its code range as data: Node 24)', () => {
    expect(out.capabilities).toMatchObject({ memoryBytes: NODE_RESERVES_DATA ? 'none' : 'rlimit', pids: 'rlimit' });
  });

  it('Node starts under the memory rlimit (an address-space cap would stop V8 at start-up)', () => {
    expect(out.node).toMatchObject({ status: 'ok', stdout: '1\n' });
  });

  it('an allocation beyond the limit fails: in Python a MemoryError, in Node an error or V8 aborting on it', () => {
    expect(out.python).toMatchObject({ status: 'ok', stdout: '1\n' });
    // Node 24: the data limit is memoryBytes plus V8's ~570 MiB reservation, for every language of
    // the executor, so it claims no memory bound at all (above).
    if (NODE_RESERVES_DATA) return;
    expect(out.pythonBig!.stdout).toBe('refused: MemoryError\n');
    const node = out.nodeBig!;
    expect(node.stdout, JSON.stringify(node).slice(0, 500)).not.toMatch(/allocated/);
    const refused =
      node.stdout.startsWith('refused: ') ||
      (node.status === 'error' && /out of memory|allocation failed/i.test(node.stderr));
    expect(refused, JSON.stringify(node).slice(0, 500)).toBe(true);
  });
});
