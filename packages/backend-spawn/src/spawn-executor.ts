import { readFileSync, realpathSync } from 'node:fs';
import {
  BackendUnavailableError,
  DEFAULT_LIMITS,
  InvalidRequestError,
  LANGUAGES,
  type ExecutionLimits,
  type NormalizedRequest,
  type BackendCapabilities,
  type ExecutionRequest,
  type ExecutionResult,
  type Language,
  type LimitEnforcement,
  type AllowNetworkPolicy,
  DEFAULT_AUDIT_LIMIT,
  EgressAuditLog,
} from '@cordon/core';
import {
  BaseExecutor,
  SANDBOX_UID_RANGE,
  newExecutionId,
  OWNER_ID,
  debug,
  WarmPool,
  warmPoolsView,
  type WarmPoolView,
  type RunContext,
  type RunOutcome,
} from '@cordon/core/backend';
import { createAdvisoryDir, type AdvisoryDir } from './advisory-dir.js';
import { PooledSandbox } from './pooled-sandbox.js';
import type { CgroupDriver, ExecutionCgroup } from './cgroup.js';
import { removeOwnerDirs } from './cgroup.js';
import { defaultPythonPath, detectHost, type HostFacts } from './host.js';
import { describeLauncher, type LauncherKind } from './launcher.js';
import { rlimitDataAllowanceBytes } from './node-reservation.js';
import { parseSpawnOptions, type ParsedSpawnOptions, type SpawnOptions } from './options.js';
import { kernelRemedy } from './remedy.js';
import {
  advisoryJob,
  advisoryPlan,
  kernelJob,
  kernelPlan,
  type Interpreters,
  type SandboxShape,
} from './sandbox-plan.js';
import { reapDeadOwners } from './reaper.js';
import type { ForwarderScope } from './egress-netns.js';
import { SandboxEgress } from './sandbox-egress.js';
import { SandboxProcess } from './sandbox-process.js';
import { acquireSandboxUser, type SandboxUser } from './sandbox-user.js';
import { RUNNER_OPEN_FILES, runnerSupported } from './runner.js';
import { DENIED_SYSCALLS, seccompSupported } from './seccomp.js';

/** Spawn executors of this process not yet closed (they share the owner's cgroup directories). */
let openExecutors = 0;

/** What a spawn executor runs sandboxes with: kernel namespaces, or advisory patching only. */
export type Isolation = 'kernel' | 'advisory';
/** @deprecated since 0.2: use `Isolation`. Removed in the next release. */
export type Tier = Isolation;

/**
 * Runs each execution in a fresh bubblewrap sandbox (kernel isolation), or, where the
 * kernel offers no namespaces, as an unprivileged process with only the Node
 * network guard (advisory isolation, refused for untrusted runs unless accepted).
 */
export class SpawnExecutor extends BaseExecutor {
  readonly name = 'spawn';
  readonly isolation: Isolation;
  readonly #options: ParsedSpawnOptions;
  readonly #host: HostFacts;
  readonly #interpreters: Interpreters;
  readonly #capabilities: BackendCapabilities;
  readonly #pool: WarmPool<PooledSandbox, 'kernel'> | undefined;
  /** Allow-list sandboxes with their forwarder attached: made on the first allow-list request that fits. */
  #allowPool: WarmPool<PooledSandbox, 'allow'> | undefined;
  /** `resolvConf`'s contents, read once at create. */
  readonly #resolvConf: Buffer | undefined;
  /** Without cgroups: added to RLIMIT_DATA so Node can start at all; non-zero means memory is unbounded (node-reservation.ts). */
  readonly #dataAllowanceBytes: number;

  private constructor(
    options: ParsedSpawnOptions,
    host: HostFacts,
    isolation: Isolation,
    interpreters: Interpreters,
    resolvConf: Buffer | undefined,
    dataAllowanceBytes: number,
  ) {
    super({ maxConcurrency: options.maxConcurrency });
    openExecutors += 1;
    this.#options = options;
    this.#host = host;
    this.isolation = isolation;
    this.#interpreters = interpreters;
    this.#resolvConf = resolvConf;
    this.#dataAllowanceBytes = dataAllowanceBytes;
    this.#capabilities = this.#describe();
    if (isolation === 'kernel' && options.poolSize > 0) {
      // One start at a time, so refills do not crowd the CPU the running executions need; a
      // host that cannot start sandboxes gets cold starts (which report the error) until the next take.
      this.#pool = new WarmPool({
        area: 'spawn.pool',
        size: options.poolSize,
        keys: ['kernel'],
        keyFor: (request) => (isPoolable(request, 'none') ? 'kernel' : undefined),
        startConcurrency: 1,
        start: () => this.#startPoolMember('none'),
        discard: (member) => member.release(),
      });
      this.#pool.fill();
    }
  }

  /**
   * @throws InvalidRequestError for a bad option; BackendUnavailableError when
   *   `isolation: 'kernel'` is asked for and this host cannot give it, or a needed tool is missing.
   */
  static async create(options: SpawnOptions | Record<string, unknown> = {}): Promise<SpawnExecutor> {
    const parsed = parseSpawnOptions(options);
    const host = await detectHost(parsed);
    const isolation = chooseIsolation(parsed, host);
    // The reason is the host's kernelProblem: a tool or kernel fact, never configuration values.
    debug('spawn.isolation', () =>
      isolation === 'kernel'
        ? `isolation kernel (option ${parsed.isolation})`
        : `isolation advisory (option ${parsed.isolation}): ${host.kernelProblem ?? 'forced'}`,
    );
    if (!host.perlPath) {
      throw new BackendUnavailableError(
        'spawn',
        'perl is not installed (the sandbox runner is a few lines of Perl)',
        'Install perl-base (Debian/Ubuntu) or perl.',
      );
    }
    if (!runnerSupported()) {
      throw new BackendUnavailableError(
        'spawn',
        `the sandbox runner cannot make itself unreachable from the program on ${process.arch} (no syscall numbers for it)`,
        'Use x86_64 or arm64, or the docker backend.',
      );
    }
    if (host.isRoot && !host.setprivPath) {
      throw new BackendUnavailableError(
        'spawn',
        'setpriv is not installed, so root cannot be dropped before running code',
        'Install util-linux.',
      );
    }
    const interpreters: Interpreters = {
      node: realpathSync(parsed.nodePath ?? process.execPath),
      python: parsed.pythonPath ?? defaultPythonPath(),
      bash: realpathSync('/bin/bash'),
      perl: host.perlPath,
    };
    const resolvConf = parsed.resolvConf === undefined ? undefined : readResolvConf(parsed.resolvConf);
    await host.cgroups?.prepareOwner(OWNER_ID);
    if (host.cgroups) {
      const reaped = await reapDeadOwners(host.cgroups, OWNER_ID);
      if (reaped.length > 0)
        debug('spawn.reaper', () => `reaped ${reaped.length} cgroup(s) of dead owners: ${reaped.join(', ')}`);
    }
    const dataAllowanceBytes =
      !host.cgroups && host.prlimitPath ? await rlimitDataAllowanceBytes(interpreters.node) : 0;
    return new SpawnExecutor(parsed, host, isolation, interpreters, resolvConf, dataAllowanceBytes);
  }

  /** @deprecated since 0.2: use `isolation`. Removed in the next release. */
  get tier(): Isolation {
    return this.isolation;
  }

  /** What starts its kernel-isolated sandboxes (bubblewrap, or the perl launcher where bubblewrap is absent); undefined in the advisory isolation. */
  get launcher(): LauncherKind | undefined {
    return this.isolation === 'kernel' ? this.#host.launcher?.kind : undefined;
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
    if (this.isolation !== 'advisory' || !this.#options.allowAdvisoryIsolation || request.acceptUnenforced === true)
      return super.execute(request);
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
    // RLIMIT_DATA raised by hundreds of MiB for Node to start bounds nothing: say none (fail closed).
    const dataUnbounded = this.#dataAllowanceBytes > 0;
    const notes = [
      this.isolation === 'kernel'
        ? `kernel isolation: ${describeLauncher(this.#host.launcher!)}; namespaces (user, pid, ipc, uts, cgroup, net), read-only minimal filesystem, a boot id of its own, no pseudo-terminals, /dev/shm sized by diskBytes`
        : `advisory isolation: ${this.#host.kernelProblem ?? 'forced by the isolation option'}; only the Node network guard stands between code and the network`,
      this.#userNote(),
      `RLIMIT_NOFILE ${RUNNER_OPEN_FILES} per process; the runner that reports status and collects files is not dumpable, so the program cannot reach it`,
      cgroup
        ? `limits through cgroup ${this.#host.cgroups?.version}`
        : 'no writable cgroups (not root or no delegation): limits through rlimits where possible',
      ...(dataUnbounded
        ? [
            `memory is not bounded: Node ${process.version}'s V8 holds ${Math.round(this.#dataAllowanceBytes / 2 ** 20)} MiB of reserved data at start, which RLIMIT_DATA counts, so the data limit is memoryBytes plus that`,
          ]
        : []),
      ...(this.isolation === 'kernel' && this.#host.egress.problem
        ? [`egress allow-lists are refused: ${this.#host.egress.problem}`]
        : []),
      ...(this.isolation === 'kernel'
        ? [
            seccompSupported()
              ? `seccomp deny-list (${DENIED_SYSCALLS.length} syscalls: io_uring, Linux AIO, bpf, perf_event_open, userfaultfd, ptrace, process_vm_*, pidfd_getfd, kcmp, keyring, modules, kexec, mount, namespaces, file handles)`
              : `no seccomp filter (none written for ${process.arch})`,
          ]
        : []),
    ];
    return {
      name: this.name,
      languages: LANGUAGES.filter(
        (language: Language) => language !== 'python' || this.#interpreters.python !== undefined,
      ),
      network: this.isolation,
      ...(this.isolation === 'kernel' && this.#host.egress.tools
        ? {
            egress: {
              capture: 'all-tcp' as const,
              observes: ['dns', 'proxy-connect', 'proxy-http', 'socks', 'captured'] as const,
              dnsUnderNone: true,
              notes: [
                "the network namespace keeps only lo; a local default route and netfilter send every TCP connection and DNS query to a forwarder (the sandbox's uid, outside its pid namespace) that relays them to the host's egress broker; other UDP and ICMP are refused",
                'under network none the namespace is not routed and nothing is captured: a forwarder serves only the resolver on its loopback, so the names code tries to resolve through it are recorded (denied, answered NXDOMAIN); a query sent straight to another address fails in the kernel, unseen',
                ...(this.#options.poolSize > 0
                  ? [
                      'allow-list runs with the default limits are served from a warm pool of their own, made on the first: each member has its forwarder attached ahead, and the execution that takes it binds its own broker session (policy, audit) before its job',
                    ]
                  : []),
              ],
            },
          }
        : {}),
      limits: {
        memoryBytes: cgroup ? 'cgroup' : dataUnbounded ? 'none' : rlimit,
        cpus: cgroup ? 'cgroup' : 'none',
        pids: cgroup ? 'cgroup' : rlimit,
        outputBytes: 'streaming',
        diskBytes: this.isolation === 'kernel' || (this.#host.isRoot && this.#host.mountPath) ? 'tmpfs' : 'none',
      },
      notes,
    };
  }

  /** Who sandboxes run as, and what tenants then share. */
  #userNote(): string {
    if (!this.#host.isRoot) {
      return `not root: every sandbox runs as the caller's uid ${process.getuid?.() ?? '?'}, so per-user kernel limits (inotify instances, message-queue bytes, pipe pages, pending signals) are shared between sandboxes`;
    }
    const { sandboxUid: uid } = this.#options;
    if (uid === 'per-sandbox')
      return `each sandbox runs as a host uid of its own (leased from ${SANDBOX_UID_RANGE.first}-${SANDBOX_UID_RANGE.first + SANDBOX_UID_RANGE.count - 1}), so no two share per-user kernel limits`;
    return `every sandbox runs as the fixed host uid ${uid}: per-user kernel limits (inotify instances, message-queue bytes, pipe pages, pending signals) are shared between them`;
  }

  protected async run(context: RunContext): Promise<RunOutcome> {
    const { request, id } = context;
    if (context.signal.aborted) return { exitCode: null, signal: null, oomKilled: false };
    if (this.isolation === 'kernel') {
      const { network } = request;
      if (network.mode === 'allow') return this.#runObserved(context, network, this.#allowPoolFor(request));
      if (network.mode === 'none' && this.#observesDnsUnderNone)
        return this.#runObserved(context, { mode: 'none' }, this.#pool);
      const pooled = this.#pool?.take(request);
      // Node boots (trusted boot script only) while the runner is moved into its cgroup and the job is sent.
      const sandbox =
        pooled?.sandbox ??
        (await this.#startKernel(
          id,
          { network: network.mode, diskBytes: request.limits.diskBytes, prebootNode: request.language === 'node' },
          request.limits,
        ));
      try {
        return await sandbox.run(context, kernelJob(request, this.#interpreters, this.#options.packageDirs));
      } finally {
        await sandbox.release();
      }
    }
    let user: SandboxUser | undefined;
    let dir: AdvisoryDir | undefined;
    let sandbox: SandboxProcess | undefined;
    try {
      user = this.#host.isRoot
        ? await acquireSandboxUser({ uid: this.#options.sandboxUid, gid: this.#options.sandboxGid })
        : undefined;
      dir = await createAdvisoryDir({
        ownerId: OWNER_ID,
        execution: id,
        request,
        owner: user,
        mountPath: this.#host.isRoot ? this.#host.mountPath : undefined,
      });
      const plan = advisoryPlan({
        interpreters: this.#interpreters,
        packageDirs: this.#options.packageDirs,
        wrapper: this.#wrapper(request.limits, user),
        user: undefined,
        marker: `${OWNER_ID}/${id}`,
        dir: dir.path,
      });
      sandbox = new SandboxProcess({ id, plan, cgroup: this.#createCgroup(id, request.limits) });
      return await sandbox.run(
        context,
        advisoryJob(request, this.#interpreters, this.#options.packageDirs, dir.path, dir.guardCopy),
      );
    } finally {
      await sandbox?.release();
      await dir?.[Symbol.asyncDispose]();
      // Given back only once nothing of the sandbox, not even its files, is left.
      await user?.release();
    }
  }

  /** Under network none the names code resolves are recorded: root hosts with the egress tools. */
  get #observesDnsUnderNone(): boolean {
    return this.#host.egress.tools !== undefined;
  }

  /**
   * An execution whose network goes through a broker session: an allow-list (every
   * connection and query judged), or network none on a host that observes its DNS (every
   * query recorded and refused). From `pool` (its forwarder already attached) or cold
   * (the forwarder attached while the runner waits). Either way the execution's own
   * session is bound before the job is sent, so every record is this execution's.
   */
  async #runObserved(
    context: RunContext,
    policy: AllowNetworkPolicy | { readonly mode: 'none' },
    pool: WarmPool<PooledSandbox, 'kernel' | 'allow'> | undefined,
  ): Promise<RunOutcome> {
    const { request, id } = context;
    const pooled = pool?.take(request);
    const sandbox =
      pooled?.sandbox ??
      (await this.#startKernel(
        id,
        { network: policy.mode, diskBytes: request.limits.diskBytes, prebootNode: request.language === 'node' },
        request.limits,
      ));
    let egress = pooled?.egress;
    try {
      const job = kernelJob(request, this.#interpreters, this.#options.packageDirs);
      const attachNow = egress === undefined;
      egress ??= await SandboxEgress.prepare({ ownerId: OWNER_ID, executionId: id, owner: sandbox.user });
      // Its records are emitted live as `egress` events.
      const audit = new EgressAuditLog(policy.mode === 'allow' ? policy.auditLimit : DEFAULT_AUDIT_LIMIT, (record) =>
        this.events.emit('egress', { id, backend: this.name, tags: request.tags, record }),
      );
      await egress.bind({ policy, audit });
      const opened = egress;
      const scope = policy.mode === 'allow' ? 'all' : 'dns';
      const outcome = await sandbox.run(
        context,
        job,
        attachNow ? { beforeJob: (runnerPid) => this.#attachForwarder(opened, sandbox, runnerPid, scope) } : {},
      );
      // run() returns once the sandbox's pid namespace is gone: nothing can open more connections.
      const audited = await egress.close();
      return audited ? { ...outcome, egress: audited } : outcome;
    } finally {
      await sandbox.release();
      await egress?.close();
    }
  }

  /**
   * Routes the sandbox's namespace to a forwarder and starts it, in the sandbox's cgroup
   * (its memory counts, and the cgroup's kill takes it too). Tagged with the sandbox's id.
   */
  async #attachForwarder(
    egress: SandboxEgress,
    sandbox: SandboxProcess,
    runnerPid: number,
    scope: ForwarderScope,
  ): Promise<void> {
    const forwarderPid = await egress.attach({
      scope,
      runnerPid,
      tools: this.#host.egress.tools!,
      perl: this.#interpreters.perl,
      marker: `${OWNER_ID}/${sandbox.id}`,
      user: sandbox.user,
    });
    await sandbox.cgroup?.attach([forwarderPid]);
  }

  /**
   * The allow-list pool, made (and starting to fill) on the first request it can serve:
   * an executor that never runs an allow-list starts none of its sandboxes.
   */
  #allowPoolFor(request: NormalizedRequest): WarmPool<PooledSandbox, 'allow'> | undefined {
    if (!this.#pool || !this.#host.egress.tools || this.closed || !isPoolable(request, 'allow')) return undefined;
    this.#allowPool ??= new WarmPool({
      area: 'spawn.pool',
      size: this.#options.poolSize,
      keys: ['allow'],
      keyFor: (candidate) => (isPoolable(candidate, 'allow') ? 'allow' : undefined),
      startConcurrency: 1,
      start: () => this.#startPoolMember('allow'),
      discard: (member) => member.release(),
    });
    return this.#allowPool;
  }

  async #createCgroup(id: string, limits: ExecutionLimits): Promise<ExecutionCgroup | undefined> {
    const driver = this.#host.cgroups;
    if (!driver) return undefined;
    try {
      return await driver.create(OWNER_ID, id, limits);
    } catch (error) {
      // A cgroup directory is removed by whoever finds it empty (another owner's reaper, a
      // closing executor); one that vanished between its mkdir and its limits is made
      // again, once (CI met it: ENOENT on pids.max).
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return driver.create(OWNER_ID, id, limits);
    }
  }

  /**
   * A pool member: the default limits, Node pre-booted, resolves once its runner waits in
   * its cgroup. An allow-list member (no network guard) and, on a host that observes DNS
   * under none, a network-none member get their forwarder attached then (scope `all` or
   * `dns`), dialling a broker socket in the member's session dir that the taking
   * execution binds. Fails closed: a member whose forwarder could not be attached is
   * released, never pooled.
   */
  async #startPoolMember(network: 'none' | 'allow'): Promise<PooledSandbox> {
    const sandbox = await this.#startKernel(
      newExecutionId(),
      { network, diskBytes: DEFAULT_LIMITS.diskBytes, prebootNode: true },
      DEFAULT_LIMITS,
    );
    let egress: SandboxEgress | undefined;
    try {
      const observed = network === 'allow' || this.#observesDnsUnderNone;
      if (observed)
        egress = await SandboxEgress.prepare({ ownerId: OWNER_ID, executionId: sandbox.id, owner: sandbox.user });
      if (!(await sandbox.ready())) throw new Error(`pool sandbox ${sandbox.id} failed to get ready`);
      if (egress) {
        const runnerPid = await sandbox.namespacePid();
        if (runnerPid === undefined) throw new Error(`pool sandbox ${sandbox.id} has no runner pid`);
        await this.#attachForwarder(egress, sandbox, runnerPid, network === 'allow' ? 'all' : 'dns');
      }
      return new PooledSandbox({ sandbox, egress });
    } catch (error) {
      await sandbox.release();
      await egress?.close();
      throw error;
    }
  }

  /**
   * Starts a kernel-isolated sandbox: its launcher is spawned as the sandbox user at once,
   * while its cgroup is made; the runner is moved in before it gets its job.
   */
  async #startKernel(id: string, shape: SandboxShape, limits: ExecutionLimits): Promise<SandboxProcess> {
    const user = this.#host.isRoot
      ? await acquireSandboxUser({ uid: this.#options.sandboxUid, gid: this.#options.sandboxGid })
      : undefined;
    try {
      const plan = kernelPlan({
        interpreters: this.#interpreters,
        packageDirs: this.#options.packageDirs,
        wrapper: this.#wrapper(limits, undefined),
        user: user ? { uid: user.uid, gid: user.gid } : undefined,
        marker: `${OWNER_ID}/${id}`,
        launcher: this.#host.launcher!,
        shape,
        resolvConf: this.#resolvConf,
      });
      const sandbox = new SandboxProcess({ id, plan, cgroup: this.#createCgroup(id, limits), user });
      this.#started.add(sandbox);
      void sandbox.ended.then(() => this.#started.delete(sandbox));
      return sandbox;
    } catch (error) {
      await user?.release();
      throw error;
    }
  }

  /**
   * Host-side prefix: in the advisory isolation, setpriv drops root with no-new-privileges
   * (no bubblewrap sets it there); without cgroups, prlimit sets rlimits. Memory is
   * RLIMIT_DATA, not RLIMIT_AS: V8 reserves far more address space than it uses, so
   * Node cannot even start under an address-space cap of 512 MiB, while the data
   * limit counts only writable memory (a failed allocation is an error in the program).
   */
  #wrapper(limits: ExecutionLimits, dropTo: SandboxUser | undefined): string[] {
    const wrapper: string[] = [];
    if (dropTo)
      wrapper.push(
        this.#host.setprivPath!,
        `--reuid=${dropTo.uid}`,
        `--regid=${dropTo.gid}`,
        '--clear-groups',
        '--no-new-privs',
      );
    if (!this.#host.cgroups && this.#host.prlimitPath)
      wrapper.push(
        this.#host.prlimitPath,
        `--data=${limits.memoryBytes + this.#dataAllowanceBytes}`,
        `--nproc=${limits.pids}`,
        '--',
      );
    return wrapper;
  }

  /** Both pools as one: idle ids, settling and the last refill error of either. */
  protected override warmPool(): WarmPoolView | undefined {
    return warmPoolsView([this.#pool, this.#allowPool]);
  }

  /** @deprecated Use `settled()`; kept for one release. */
  warm(): Promise<void> {
    return this.settled();
  }

  /** The validated options this executor was made with (to make a sibling that differs in one). */
  get options(): ParsedSpawnOptions {
    return this.#options;
  }

  /** Executors closed together with this one (the conformance adapter's sibling). */
  readonly #companions = new Set<SpawnExecutor>();

  closeWith(companion: SpawnExecutor): void {
    if (this.closed) void companion.close();
    else this.#companions.add(companion);
  }

  /** Kernel sandboxes not yet closed: pool members starting or idle, and runs. */
  readonly #started = new Set<SandboxProcess>();

  protected async dispose(): Promise<void> {
    await Promise.all([...this.#companions].map((companion) => companion.close()));
    // Runs were stopped before dispose; a pool member still starting would otherwise be
    // waited for (the pool waits for its starts) however long its start takes.
    for (const sandbox of this.#started) sandbox.kill();
    await Promise.all([this.#pool?.close(), this.#allowPool?.close()]);
    openExecutors -= 1;
    // The owner's directories are shared by every executor of this process: the last one removes them.
    if (this.#host.cgroups && openExecutors === 0) await removeOwnerDirs(this.#host.cgroups, OWNER_ID);
  }
}

/** The pools hold sandboxes for the common case: the default limits, network none (or an allow-list, its own pool). */
function isPoolable(request: NormalizedRequest, mode: 'none' | 'allow'): boolean {
  return (
    request.network.mode === mode &&
    (Object.keys(DEFAULT_LIMITS) as (keyof typeof DEFAULT_LIMITS)[]).every(
      (name) => request.limits[name] === DEFAULT_LIMITS[name],
    )
  );
}

/** @throws InvalidRequestError when the file cannot be read. */
function readResolvConf(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new InvalidRequestError(
      'options.resolvConf',
      path,
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
}

function chooseIsolation(options: ParsedSpawnOptions, host: HostFacts): Isolation {
  switch (options.isolation) {
    case 'advisory':
      return 'advisory';
    case 'kernel':
      if (!host.userNamespaces)
        throw new BackendUnavailableError(
          'spawn',
          `kernel isolation is not available: ${host.kernelProblem ?? 'unknown reason'}`,
          kernelRemedy(host.kernelProblem),
        );
      return 'kernel';
    case 'auto':
      return host.userNamespaces ? 'kernel' : 'advisory';
  }
}
