import { describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { leftoversOf, sleep } from './helpers.js';

describe('spawn backend, pool of pre-started sandboxes', () => {
  it('uses each pre-started sandbox once, refills, and leaves nothing after close', async () => {
    const executor = await SpawnExecutor.create({ poolSize: '2' });
    try {
      await executor.settled();
      expect(executor.idleSandboxIds.size).toBe(2);
      // Idle members are held on purpose, not leaked.
      expect(await leftoversOf(executor)).toEqual([]);

      const first = await executor.execute({
        language: 'bash',
        code: 'echo secret > /tmp/state; echo one > out.txt; cat in.txt',
        files: { 'in.txt': 'input' },
        collectFiles: ['out.txt'],
      });
      expect([first.status, first.stdout]).toEqual(['ok', 'input']);
      expect(first.files.map((file) => Buffer.from(file.content).toString())).toEqual(['one\n']);
      await executor.settled();
      const second = await executor.execute({ language: 'bash', code: 'cat /tmp/state 2>/dev/null || echo fresh; ls' });
      expect(second.stdout).toBe('fresh\n');
      const node = await executor.execute({
        language: 'node',
        code: 'console.log(process.env.GREETING)',
        env: { GREETING: 'pooled' },
      });
      expect(node.stdout).toBe('pooled\n');
      // Not the pool's shape: started cold, same result.
      const cold = await executor.execute({
        language: 'python',
        code: 'print("cold")',
        limits: { memoryBytes: 128 * 1024 * 1024 },
      });
      expect(cold.stdout).toBe('cold\n');
      const timedOut = await executor.execute({ language: 'bash', code: 'sleep 30', timeoutMs: 300 });
      expect(timedOut.status).toBe('timeout');
      await executor.settled();
      expect(await leftoversOf(executor)).toEqual([]);
    } finally {
      await executor.close();
    }
    expect(executor.idleSandboxIds.size).toBe(0);
    expect(await leftoversOf(executor)).toEqual([]);
  });

  it('runs node programs on the pre-booted Node exactly as a cold start would', async () => {
    const executor = await SpawnExecutor.create({ poolSize: 1 });
    try {
      await executor.settled();
      await sleep(400);
      // The pre-booted Node has been up since before the request.
      const booted = await executor.execute({
        language: 'node',
        code: 'console.log(process.uptime() > 0.3, require.main === module, process.argv.length, Object.keys(process.env).sort().join(","))',
        env: { ONLY: 'this' },
      });
      expect(booted.stdout).toBe('true true 2 HOME,NODE_OPTIONS,ONLY,PATH\n');
      await executor.settled();
      const esm = await executor.execute({
        language: 'node',
        code: "import { readFileSync } from 'node:fs';\nconst input = readFileSync(0, 'utf8');\nawait Promise.resolve();\nconsole.log(input.toUpperCase());\nprocess.exitCode = 4;",
        stdin: 'piped',
      });
      expect([esm.stdout, esm.exitCode]).toEqual(['PIPED\n', 4]);
      await executor.settled();
      const killed = await executor.execute({ language: 'node', code: "process.kill(process.pid, 'SIGTERM')" });
      expect([killed.exitCode, killed.signal]).toEqual([null, 'SIGTERM']);
      await executor.settled();
      const guarded = await executor.execute({
        language: 'node',
        code: "require('http').get('http://127.0.0.1:9/').on('error', (e) => console.log(e.code))",
      });
      expect(guarded.stdout).toBe('ERR_CORDON_NETWORK_BLOCKED\n');
      await executor.settled();
      const python = await executor.execute({ language: 'python', code: 'print("not node")' });
      expect(python.stdout).toBe('not node\n');
    } finally {
      await executor.close();
    }
    expect(await leftoversOf(executor)).toEqual([]);
  });
});
