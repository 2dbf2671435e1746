import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { MemoryProbeInput } from './memory-probe.js';
import type { Progress } from './progress.js';
import { memoryRowSchema, type MemoryRow } from './results.js';

const probeScript = fileURLToPath(new URL('./memory-probe.js', import.meta.url));

const running = new Set<ChildProcess>();

/**
 * Stops running probes and waits until they have closed their executors (each
 * removes its own pool on SIGTERM), so an interrupted run leaves nothing behind.
 */
export async function stopMemoryProbes(timeoutMs = 60_000): Promise<void> {
  await Promise.all(
    [...running].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const closed = once(child, 'close');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await closed;
      clearTimeout(timer);
    }),
  );
}

export type MemoryOutcome = { ok: true; row: MemoryRow } | { ok: false; reason: string };

/** Runs the memory probe for one backend in a fresh Node process (see memory-probe.ts). */
export function measureMemory(input: MemoryProbeInput, progress: Progress): Promise<MemoryOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', probeScript, JSON.stringify(input)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let pending = '';
    const problems: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^progress (\d+) (\d+)$/.exec(line);
        if (match)
          progress.update(
            Number(match[1]),
            Number(match[2]),
            `${input.backend} pool ${input.poolSize} ×${input.concurrency}`,
          );
        else if (line.startsWith('problem ')) problems.push(line.slice(8));
        else if (line.trim() !== '') problems.push(line);
      }
    });
    child.on('error', (error) => resolve({ ok: false, reason: error.message }));
    child.on('close', (code) => {
      running.delete(child);
      const parsed = memoryRowSchema.safeParse(safeJson(stdout.trim().split('\n').pop() ?? ''));
      if (code === 0 && parsed.success) resolve({ ok: true, row: parsed.data });
      else resolve({ ok: false, reason: problems[0] ?? `memory probe exited ${code}` });
    });
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
