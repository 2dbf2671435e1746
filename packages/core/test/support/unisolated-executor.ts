import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BaseExecutor, type RunContext, type RunOutcome } from '../../src/base-executor.js';
import type { BackendCapabilities } from '../../src/capabilities.js';
import type { ConformanceAdapter } from '../../src/conformance-adapter.js';
import { hostCommand } from '../../src/conformance-host-runner.js';
import type { Language } from '../../src/request.js';

/**
 * DELIBERATELY UNISOLATED. Runs code straight on the host (`node -e`,
 * `python3 -c`, `bash -c`) with the host's whole environment, ignores `network`,
 * enforces no limit, and kills only its own process group on timeout. It claims
 * kernel network isolation and cgroup limits so the suite judges it strictly:
 * the self-test proves the suite reports every way out. Never shipped.
 */
export class UnisolatedExecutor extends BaseExecutor {
  readonly name = 'unisolated-test';
  readonly #workdirs = new Set<string>();

  readonly #languages: readonly Language[];

  constructor(languages: readonly Language[] = ['node', 'python', 'bash']) {
    super({ maxConcurrency: 4 });
    this.#languages = languages;
  }

  capabilities(): BackendCapabilities {
    return {
      name: this.name,
      languages: this.#languages,
      network: 'kernel',
      limits: { memoryBytes: 'cgroup', cpus: 'cgroup', pids: 'cgroup', outputBytes: 'streaming', diskBytes: 'cgroup' },
      notes: ['test only: no isolation at all'],
    };
  }

  protected async run(context: RunContext): Promise<RunOutcome> {
    const { request } = context;
    const command = hostCommand(request.language, request.code);
    if (!command) throw new Error(`no ${request.language} on this host`);
    const workdir = await mkdtemp(join(tmpdir(), 'cordon-unisolated-'));
    this.#workdirs.add(workdir);
    try {
      for (const [path, content] of request.files) {
        await mkdir(dirname(join(workdir, path)), { recursive: true });
        await writeFile(join(workdir, path), content);
      }
      return await new Promise<RunOutcome>((resolve, reject) => {
        const child = spawn(command[0], command[1], { cwd: workdir, env: { ...process.env, ...request.env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
        child.stdout.on('data', (chunk: Buffer) => context.stdout.write(chunk));
        child.stderr.on('data', (chunk: Buffer) => context.stderr.write(chunk));
        child.stdin.on('error', () => undefined);
        child.stdin.end(request.stdin ?? Buffer.alloc(0));
        const killGroup = () => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // Group already gone.
          }
        };
        context.signal.addEventListener('abort', killGroup, { once: true });
        child.on('error', reject);
        child.on('exit', (exitCode, signal) => {
          context.signal.removeEventListener('abort', killGroup);
          // Background children may hold the pipes open; do not wait for them (that is the point of this executor).
          const finish = () => resolve({ exitCode, signal, oomKilled: false });
          const timer = setTimeout(finish, 100);
          child.once('close', () => {
            clearTimeout(timer);
            finish();
          });
        });
      });
    } finally {
      await rm(workdir, { recursive: true, force: true });
      this.#workdirs.delete(workdir);
    }
  }

  /** Work directories still on disk (should be none). */
  leftoverWorkdirs(): string[] {
    return [...this.#workdirs].filter((dir) => existsSync(dir));
  }

  protected async dispose(): Promise<void> {
    for (const dir of this.#workdirs) await rm(dir, { recursive: true, force: true });
  }
}

export function unisolatedAdapter(executor = new UnisolatedExecutor()): ConformanceAdapter {
  return {
    executor,
    canaryNetwork: { bindIPv4: '127.0.0.1', reachIPv4: '127.0.0.1', bindIPv6: '::1', reachIPv6: '::1', sharesHostLoopback: true },
    leftovers: () => Promise.resolve(executor.leftoverWorkdirs()),
  };
}
