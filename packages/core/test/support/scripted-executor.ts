import { BaseExecutor, type RunContext, type RunOutcome } from '../../src/backend/base-executor.js';
import type { BackendCapabilities } from '../../src/capabilities.js';
import type { ExecutorOptions } from '../../src/executor.js';

export type Script = (context: RunContext) => Promise<RunOutcome>;

const STRONG: BackendCapabilities = {
  name: 'scripted',
  languages: ['node', 'python', 'bash'],
  network: 'kernel',
  limits: { memoryBytes: 'cgroup', cpus: 'cgroup', pids: 'cgroup', outputBytes: 'streaming', diskBytes: 'tmpfs' },
};

/** A backend whose `run` is a test-supplied function: exercises BaseExecutor without any sandbox. */
export class ScriptedExecutor extends BaseExecutor {
  readonly name = 'scripted';
  disposed = 0;
  readonly #script: Script;
  readonly #capabilities: BackendCapabilities;

  constructor(script: Script, options: ExecutorOptions & { capabilities?: Partial<BackendCapabilities> } = {}) {
    super(options);
    this.#script = script;
    this.#capabilities = { ...STRONG, ...options.capabilities };
  }

  capabilities(): BackendCapabilities {
    return this.#capabilities;
  }

  protected run(context: RunContext): Promise<RunOutcome> {
    return this.#script(context);
  }

  /** Hands `task` to BaseExecutor's background tracking, as a backend does with a removal. */
  background(task: Promise<unknown>): Promise<void> {
    return this.track(task, 'scripted background task');
  }

  protected dispose(): Promise<void> {
    this.disposed++;
    return Promise.resolve();
  }
}

export const exited = (exitCode: number): RunOutcome => ({ exitCode, signal: null, oomKilled: false });

/** A run that lasts until its signal fires, then reports a kill. */
export function untilStopped(context: RunContext): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const done = () => resolve({ exitCode: null, signal: 'SIGKILL', oomKilled: false });
    if (context.signal.aborted) done();
    else context.signal.addEventListener('abort', done, { once: true });
  });
}
