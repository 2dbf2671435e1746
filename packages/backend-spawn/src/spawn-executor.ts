import { spawn, type StdioPipe } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import {
  BackendFailureError,
  BackendUnavailableError,
  BaseExecutor,
  LANGUAGES,
  SESSION_ID,
  type BackendCapabilities,
  type ExecutionRequest,
  type ExecutionResult,
  type Language,
  type LimitEnforcement,
  type RunContext,
  type RunOutcome,
} from '@cordon/core';
import { createAdvisoryDir, type AdvisoryDir } from './advisory-dir.js';
import type { CgroupDriver, ExecutionCgroup } from './cgroup.js';
import { removeSessionDirs } from './cgroup.js';
import { collectFiles, type Collected } from './collect-files.js';
import { defaultPythonPath, detectHost, type HostFacts } from './host.js';
import { parseSpawnOptions, type ParsedSpawnOptions, type SpawnExecutorOptions } from './options.js';
import { kernelRemedy } from './remedy.js';
import { ControlChannel, encodeEnv, type ProgramStatus } from './runner.js';
import { advisoryPlan, kernelPlan, SANDBOX_WORKDIR, type Interpreters, type SandboxPlan } from './sandbox-plan.js';

export type Tier = 'kernel' | 'advisory';

/** Writes its own pid into each cgroup, then becomes the sandbox: nothing runs before it is placed. */
const ATTACH_SCRIPT = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';
const SETUP_FAILURE_STDERR_BYTES = 4096;

/**
 * Runs each execution in a fresh bubblewrap sandbox (kernel tier), or, where the
 * kernel offers no namespaces, as an unprivileged process with only the Node
 * network guard (advisory tier, refused for untrusted runs unless accepted).
 */
export class SpawnExecutor extends BaseExecutor {
  readonly name = 'spawn';
  readonly tier: Tier;
  readonly #options: ParsedSpawnOptions;
  readonly #host: HostFacts;
  readonly #interpreters: Interpreters;
  readonly #capabilities: BackendCapabilities;

  private constructor(options: ParsedSpawnOptions, host: HostFacts, tier: Tier, interpreters: Interpreters) {
    super({ maxConcurrency: options.maxConcurrency });
    this.#options = options;
    this.#host = host;
    this.tier = tier;
    this.#interpreters = interpreters;
    this.#capabilities = this.#describe();
  }

  /**
   * @throws InvalidRequestError for a bad option; BackendUnavailableError when
   *   `tier: 'kernel'` is asked for and this host cannot give it, or a needed tool is missing.
   */
  static async create(options: SpawnExecutorOptions | Record<string, unknown> = {}): Promise<SpawnExecutor> {
    const parsed = parseSpawnOptions(options as Record<string, unknown>);
    const host = await detectHost(parsed);
    const tier = chooseTier(parsed, host);
    if (!host.perlPath) {
      throw new BackendUnavailableError('spawn', 'perl is not installed (the sandbox runner is a few lines of Perl)', 'Install perl-base (Debian/Ubuntu) or perl.');
    }
    if (host.isRoot && !host.setprivPath) {
      throw new BackendUnavailableError('spawn', 'setpriv is not installed, so root cannot be dropped before running code', 'Install util-linux.');
    }
    const interpreters: Interpreters = {
      node: realpathSync(parsed.nodePath ?? process.execPath),
      python: parsed.pythonPath ?? defaultPythonPath(),
      bash: realpathSync('/bin/bash'),
      perl: host.perlPath,
    };
    await host.cgroups?.prepareSession(SESSION_ID);
    return new SpawnExecutor(parsed, host, tier, interpreters);
  }

  /** The cgroup driver in use, for leak checks; undefined where limits are rlimits. */
  get cgroupDriver(): CgroupDriver | undefined {
    return this.#host.cgroups;
  }

  capabilities(): BackendCapabilities {
    return this.#capabilities;
  }

  /** `allowAdvisoryIsolation` waives the network guarantee for every run, with the usual warning on the result. */
  override execute(request: ExecutionRequest): Promise<ExecutionResult> {
    if (this.tier !== 'advisory' || !this.#options.allowAdvisoryIsolation || request.acceptUnenforced === true) return super.execute(request);
    const accepted = new Set(request.acceptUnenforced ?? []);
    accepted.add('network');
    return super.execute({ ...request, acceptUnenforced: [...accepted] });
  }

  protected override networkRemedy(): string {
    return kernelRemedy(this.#host.kernelProblem);
  }

  #describe(): BackendCapabilities {
    const cgroup = this.#host.cgroups !== undefined;
    const rlimit: LimitEnforcement = this.#host.prlimitPath ? 'rlimit' : 'none';
    const notes = [
      this.tier === 'kernel'
        ? `kernel tier: bubblewrap namespaces (user, pid, ipc, uts, cgroup, net), read-only minimal filesystem${this.#host.isRoot ? `, runs as uid ${this.#options.sandboxUid}` : ''}`
        : `advisory tier: ${this.#host.kernelProblem ?? 'forced by the tier option'}; only the Node network guard stands between code and the network`,
      cgroup ? `limits through cgroup ${this.#host.cgroups?.version}` : 'no writable cgroups (not root or no delegation): limits through rlimits where possible',
    ];
    return {
      name: this.name,
      languages: LANGUAGES.filter((language: Language) => language !== 'python' || this.#interpreters.python !== undefined),
      network: this.tier,
      limits: {
        memoryBytes: cgroup ? 'cgroup' : rlimit,
        cpus: cgroup ? 'cgroup' : 'none',
        pids: cgroup ? 'cgroup' : rlimit,
        outputBytes: 'streaming',
        diskBytes: this.tier === 'kernel' || (this.#host.isRoot && this.#host.mountPath) ? 'tmpfs' : 'none',
      },
      notes,
    };
  }

  protected async run(context: RunContext): Promise<RunOutcome> {
    const { request, id } = context;
    if (context.signal.aborted) return { exitCode: null, signal: null, oomKilled: false };
    const cgroup = await this.#host.cgroups?.create(SESSION_ID, id, request.limits);
    let dir: AdvisoryDir | undefined;
    try {
      const wrapper = this.#wrapper(cgroup, request.limits.memoryBytes, request.limits.pids);
      const marker = `${SESSION_ID}/${id}`;
      const collect = request.collectFiles.length > 0;
      let plan: SandboxPlan;
      if (this.tier === 'kernel') {
        plan = kernelPlan({ request, interpreters: this.#interpreters, packageDirs: this.#options.packageDirs, wrapper, marker, bwrapPath: this.#host.bwrapPath!, collect });
      } else {
        dir = await createAdvisoryDir({
          session: SESSION_ID,
          execution: id,
          request,
          owner: this.#host.isRoot ? { uid: this.#options.sandboxUid, gid: this.#options.sandboxGid } : undefined,
          mountPath: this.#host.isRoot ? this.#host.mountPath : undefined,
        });
        plan = advisoryPlan({ request, interpreters: this.#interpreters, packageDirs: this.#options.packageDirs, wrapper, marker, dir: dir.path, guardCopy: dir.guardCopy });
      }
      const advisoryRoot = dir ? `${dir.path}/work` : undefined;
      return await this.#spawn(context, plan, cgroup, collect, advisoryRoot);
    } finally {
      await cgroup?.remove();
      await dir?.[Symbol.asyncDispose]();
    }
  }

  /** Host-side prefix: cgroup attach (root), privilege drop (root), rlimits (no cgroups). */
  #wrapper(cgroup: ExecutionCgroup | undefined, memoryBytes: number, pids: number): string[] {
    const wrapper: string[] = [];
    if (cgroup) wrapper.push('/bin/sh', '-c', ATTACH_SCRIPT, 'cordon-attach', String(cgroup.procsFiles.length), ...cgroup.procsFiles);
    if (this.#host.isRoot) {
      wrapper.push(this.#host.setprivPath!, `--reuid=${this.#options.sandboxUid}`, `--regid=${this.#options.sandboxGid}`, '--clear-groups', '--no-new-privs');
    }
    if (!cgroup && this.#host.prlimitPath) wrapper.push(this.#host.prlimitPath, `--as=${memoryBytes}`, `--nproc=${pids}`, '--');
    return wrapper;
  }

  #spawn(context: RunContext, plan: SandboxPlan, cgroup: ExecutionCgroup | undefined, collect: boolean, advisoryRoot: string | undefined): Promise<RunOutcome> {
    const { request, signal } = context;
    const extraFds = (plan.statusFd !== undefined ? 1 : 0) + plan.dataFds.length;
    const stdio: StdioPipe[] = Array.from({ length: 4 + extraFds }, () => 'pipe');
    const child = spawn(plan.command, plan.args, { stdio, env: plan.env, cwd: plan.cwd, detached: plan.detached });
    const streams = child.stdio as unknown as (Readable & Writable)[];
    const control = streams[3]!;

    return new Promise<RunOutcome>((resolve, reject) => {
      let setupStderr = '';
      let statusJson = '';
      let collected: Collected | undefined;
      let collecting: Promise<void> | undefined;
      let spawnError: Error | undefined;

      const killTree = () => {
        try {
          if (plan.detached && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Group already gone.
        }
        child.kill('SIGKILL');
        void cgroup?.killAll();
      };
      const onAbort = () => killTree();
      signal.addEventListener('abort', onAbort, { once: true });

      const channel = new ControlChannel(() => {
        if (this.tier === 'advisory') {
          // The program exited; background children it left must not hold the streams open.
          killTree();
          return;
        }
        if (!collect) return;
        collecting = this.#collectFromSandbox(statusJson, child.pid, request.collectFiles, request.limits.diskBytes)
          .then((result) => {
            collected = result;
          })
          .finally(() => control.end());
      });

      for (const stream of streams) stream?.on('error', () => undefined);
      child.stdout.on('data', (chunk: Buffer) => context.stdout.write(chunk));
      child.stderr.on('data', (chunk: Buffer) => {
        if (!channel.started && setupStderr.length < SETUP_FAILURE_STDERR_BYTES) setupStderr += chunk.toString('utf8');
        context.stderr.write(chunk);
      });
      control.on('data', (chunk: Buffer) => channel.push(chunk));
      control.write(encodeEnv(plan.programEnv));
      if (plan.statusFd !== undefined) streams[plan.statusFd]!.on('data', (chunk: Buffer) => (statusJson += chunk.toString('utf8')));
      plan.dataFds.forEach((data, index) => streams[plan.firstDataFd + index]!.end(data));
      child.stdin.end(request.stdin ?? Buffer.alloc(0));

      child.on('error', (error) => {
        spawnError = error;
      });
      child.on('exit', () => {
        // The runner is gone; nothing of this execution may outlive it.
        if (plan.detached) killTree();
      });
      child.on('close', (code, closeSignal) => {
        signal.removeEventListener('abort', onAbort);
        void (async () => {
          await collecting;
          if (spawnError) throw new BackendFailureError('spawn', `could not start the sandbox: ${spawnError.message}`, { executionId: context.id }, { cause: spawnError });
          if (!channel.started && !signal.aborted) {
            throw new BackendFailureError('spawn', `the sandbox could not be set up (exit ${code ?? closeSignal}): ${setupStderr.trim() || 'no message'}`, { executionId: context.id });
          }
          const status: ProgramStatus = channel.status ?? { exitCode: signal.aborted ? null : code, signal: signal.aborted ? 'SIGKILL' : closeSignal };
          if (advisoryRoot && collect && !signal.aborted) collected = await collectFiles(advisoryRoot, request.collectFiles, request.limits.diskBytes);
          const oomKilled = (await cgroup?.oomKilled()) ?? false;
          return { ...status, oomKilled, files: collected?.files ?? [], filesTruncated: collected?.truncated ?? false };
        })().then(resolve, reject);
      });
    });
  }

  /** Reads collected files through the sandbox init's view of its own tmpfs while the runner holds it open. */
  async #collectFromSandbox(statusJson: string, bwrapPid: number | undefined, patterns: readonly string[], capBytes: number): Promise<Collected> {
    // bubblewrap reports its init's host pid on the status fd; its children file is the fallback.
    const pid = /"child-pid":\s*(\d+)/.exec(statusJson)?.[1] ?? (bwrapPid === undefined ? undefined : (await readFile(`/proc/${bwrapPid}/task/${bwrapPid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/)[0]);
    if (!pid) return { files: [], truncated: false };
    return collectFiles(`/proc/${pid}/root${SANDBOX_WORKDIR}`, patterns, capBytes).catch(() => ({ files: [], truncated: false }));
  }

  protected async dispose(): Promise<void> {
    if (this.#host.cgroups) await removeSessionDirs(this.#host.cgroups, SESSION_ID);
  }
}

function chooseTier(options: ParsedSpawnOptions, host: HostFacts): Tier {
  switch (options.tier) {
    case 'advisory':
      return 'advisory';
    case 'kernel':
      if (!host.userNamespaces) throw new BackendUnavailableError('spawn', `kernel isolation is not available: ${host.kernelProblem ?? 'unknown reason'}`, kernelRemedy(host.kernelProblem));
      return 'kernel';
    case 'auto':
      return host.userNamespaces ? 'kernel' : 'advisory';
  }
}
