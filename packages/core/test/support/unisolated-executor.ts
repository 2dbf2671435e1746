import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BaseExecutor, type RunContext, type RunOutcome } from '../../src/backend/base-executor.js';
import type { BackendCapabilities } from '../../src/capabilities.js';
import type { ConformanceAdapter } from '../../src/conformance/adapter.js';
import { hostCommand } from '../../src/conformance/on-host.js';
import type { Language } from '../../src/request.js';
import { collectFollowingLinks } from './naive-collect.js';
import { NaiveStream, naiveDecodeTrailer } from './naive-trailer.js';
import { SharedHost } from './shared-host.js';
import { guardHostGroup } from './host-group.js';

/** The environment variable that hands each run its trailer nonce: readable by the program, on purpose. */
export const NONCE_VARIABLE = 'CORDON_TRAILER_NONCE';

/**
 * DELIBERATELY UNISOLATED. Runs code straight on the host (`node -e`,
 * `python3 -c`, `bash -c`) with the host's whole environment, ignores `network`,
 * enforces no limit, and kills only its own process group on timeout. It claims
 * kernel network isolation and cgroup limits so the suite judges it strictly:
 * the self-test proves the suite reports every way out. Never shipped.
 *
 * Its result channel is naive on purpose too: a per-run nonce in the program's
 * environment, an in-band trailer on stderr (`\0cordon:<nonce>:<base64 JSON>\0`,
 * found by unbounded line framing) that decides status, exit code and files
 * with their paths unchecked, and otherwise a collection that follows symlinks
 * from the working directory's host path. As root, every run is one fixed
 * unprivileged uid with the host's RLIMIT_NOFILE, in one shared devpts and one
 * cgroup named by a container-like id (`SharedHost`); the per-user and pty
 * probes then exhaust that uid and that instance, never root's or the host's.
 */
export class UnisolatedExecutor extends BaseExecutor {
  readonly name = 'unisolated-test';
  readonly #workdirs = new Set<string>();
  readonly #languages: readonly Language[];
  readonly #shared: SharedHost | undefined;

  constructor(languages: readonly Language[] = ['node', 'python', 'bash']) {
    super({ maxConcurrency: 4 });
    this.#languages = languages;
    this.#shared = SharedHost.unavailable() === undefined ? new SharedHost() : undefined;
  }

  /** Why its runs do not share one uid, devpts and cgroup here (not root, tools missing), or undefined. */
  get unshared(): string | undefined {
    return SharedHost.unavailable();
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
    const plain = hostCommand(request.language, request.code);
    if (!plain) throw new Error(`no ${request.language} on this host`);
    const command = this.#shared ? await this.#shared.wrap(plain) : plain;
    // The working directory sits in a directory of its own, so whatever the program renames it to is removed too.
    const base = await mkdtemp(join(tmpdir(), 'cordon-unisolated-'));
    const workdir = join(base, 'work');
    this.#workdirs.add(base);
    try {
      await mkdir(workdir);
      for (const [path, content] of request.files) {
        await mkdir(dirname(join(workdir, path)), { recursive: true });
        await writeFile(join(workdir, path), content);
      }
      const nonce = randomBytes(16).toString('hex');
      const stdout = new NaiveStream(undefined, (chunk) => context.stdout.write(chunk));
      const stderr = new NaiveStream(nonce, (chunk) => context.stderr.write(chunk));
      const exit = await new Promise<{ exitCode: number | null; signal: string | null }>((resolve, reject) => {
        const child = spawn(command[0], command[1], {
          cwd: workdir,
          env: { ...process.env, ...request.env, [NONCE_VARIABLE]: nonce },
          detached: true,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const onStdout = (chunk: Buffer) => stdout.push(chunk);
        const onStderr = (chunk: Buffer) => stderr.push(chunk);
        child.stdout.on('data', onStdout);
        child.stderr.on('data', onStderr);
        const group = guardHostGroup(child, request.stdin, context.signal);
        child.on('error', reject);
        child.on('exit', (exitCode, signal) => {
          group.forget();
          // Background children may hold the pipes open; do not wait for them (that is the point of this executor).
          const finish = () => {
            child.stdout.off('data', onStdout);
            child.stderr.off('data', onStderr);
            stdout.end();
            stderr.end();
            resolve({ exitCode, signal });
          };
          const timer = setTimeout(finish, 100);
          child.once('close', () => {
            clearTimeout(timer);
            finish();
          });
        });
      });
      // Naive on purpose: a trailer, whoever wrote it, decides everything.
      const trailer = stderr.trailer ? naiveDecodeTrailer(stderr.trailer) : undefined;
      if (trailer)
        return {
          exitCode: trailer.exitCode,
          signal: trailer.signal,
          oomKilled: false,
          files: trailer.files,
          filesTruncated: trailer.filesTruncated,
        };
      const files = request.collectFiles.length > 0 ? await collectFollowingLinks(workdir, request.collectFiles) : [];
      return { ...exit, oomKilled: false, files };
    } finally {
      if (await removeTree(base)) this.#workdirs.delete(base);
    }
  }

  /** Work directories still on disk (should be none). */
  leftoverWorkdirs(): string[] {
    return [...this.#workdirs].filter((dir) => existsSync(dir));
  }

  protected async dispose(): Promise<void> {
    for (const dir of this.#workdirs) if (await removeTree(dir)) this.#workdirs.delete(dir);
    await this.#shared?.close();
  }
}

/**
 * Removes a run's directory even while a process it left behind still swaps
 * entries in it (the race probe's flipper stops once its entries go): a failed
 * pass is retried. False when it is still there.
 */
async function removeTree(dir: string): Promise<boolean> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      return true;
    } catch {
      await sleep(50);
    }
  }
  return !existsSync(dir);
}

export function unisolatedAdapter(executor = new UnisolatedExecutor()): ConformanceAdapter {
  const unshared = executor.unshared;
  return {
    executor,
    canaryNetwork: {
      bindIPv4: '127.0.0.1',
      reachIPv4: '127.0.0.1',
      bindIPv6: '::1',
      reachIPv6: '::1',
      sharesHostLoopback: true,
    },
    leftovers: () => Promise.resolve(executor.leftoverWorkdirs()),
    // Without the shared uid and devpts, exhausting them would hit this user's own limits and the host's terminals.
    ...(unshared
      ? {
          notApplicable: {
            'shared-resources': `the unisolated runs share no throwaway uid here (${unshared}); run the self-test as root`,
            'host-identifiers:cgroup-ids': `no container-like cgroup here (${unshared})`,
          },
        }
      : {}),
  };
}
