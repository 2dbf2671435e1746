import { randomBytes } from 'node:crypto';
import {
  BackendFailureError,
  BackendUnavailableError,
  closedNetworkMode,
  DEFAULT_LIMITS,
  EgressAuditLog,
  LANGUAGES,
  LIMIT_NAMES,
  type BackendCapabilities,
  type ExecutionLimits,
  type Language,
  type NormalizedRequest,
} from '@cordon/core';
import {
  BaseExecutor,
  debug,
  foreignKindFor,
  ignored,
  languagesOfTools,
  type ImageTools,
  sandboxUidLeases,
  WarmPool,
  warmPoolsView,
  type WarmPoolView,
  type RunContext,
  type RunOutcome,
} from '@cordon/core/backend';
import type { DaemonSession } from '@cordon/egress-broker';
import type { BrokerContainer } from './egress/broker-container.js';
import { BACKEND_NAME } from './backend-name.js';
import { DOCKER_LABELS, type SandboxSpec } from './container-spec.js';
import { ContainerExits } from './container-exits.js';
import { checkDaemon, type DaemonFacts } from './daemon-check.js';
import { DockerApi } from './docker-api.js';
import { imageTools } from './image-tools.js';
import { parseDockerOptions, type DockerOptions, type ParsedDockerOptions } from './options.js';
import { listCordonContainers, reapDeadOwners, removeContainers } from './reaper.js';
import { runnerKindFor, type RunnerKind } from '@cordon/core/backend';
import { SandboxContainer } from './sandbox-container.js';
import { ExecutorEgress } from './egress/executor-egress.js';

/** Pooled containers are made with the default limits; a request with other limits gets a cold one. */
const POOL_LIMITS: ExecutionLimits = { ...DEFAULT_LIMITS };

/**
 * Every execution in a fresh, hardened, single-use container (runc, or any OCI
 * runtime such as gVisor's runsc), taken from a warm pool of pre-booted runtimes
 * when the request matches the pool, else started cold. Containers are removed in
 * the background after the result is returned; `close()` waits for that.
 */
export class DockerBackendExecutor extends BaseExecutor {
  readonly name = BACKEND_NAME;
  readonly options: ParsedDockerOptions;
  readonly facts: DaemonFacts;
  /** A foreign image's tools (probed once per image id); undefined for cordon's runtime image. */
  readonly imageTools: ImageTools | undefined;
  /** What the image can run. */
  readonly languages: readonly Language[];
  /** On every container this executor makes (label `cordon.dev/executor`). */
  readonly executorId = randomBytes(6).toString('hex');
  readonly #api: DockerApi;
  readonly #exits: ContainerExits;
  readonly #pool: WarmPool<SandboxContainer, RunnerKind> | undefined;
  /** Allow-list containers (each with its own session slot on the broker's volume), made on the first allow-list run. */
  #allowPool: WarmPool<SandboxContainer, RunnerKind> | undefined;
  /** The broker whose volume the allow-list pool's members mount. */
  #allowPoolBroker: BrokerContainer | undefined;
  readonly #pooledKinds: ReadonlySet<RunnerKind>;
  readonly #conformanceControl: boolean;
  readonly #owned: { close(): Promise<void> }[] = [];
  readonly #egress: ExecutorEgress;

  private constructor(params: {
    api: DockerApi;
    options: ParsedDockerOptions;
    facts: DaemonFacts;
    tools: ImageTools | undefined;
    conformanceControl: boolean;
  }) {
    const { options } = params;
    super(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency });
    this.#api = params.api;
    this.#exits = new ContainerExits({ api: params.api, labels: [`${DOCKER_LABELS.executor}=${this.executorId}`] });
    this.options = options;
    this.facts = params.facts;
    this.imageTools = params.tools;
    this.languages = params.tools ? languagesOfTools(params.tools) : LANGUAGES;
    this.#conformanceControl = params.conformanceControl;
    this.#egress = new ExecutorEgress({ api: params.api, image: options.image, executorId: this.executorId });
    this.#pooledKinds = new Set(
      options.poolLanguages.filter((language) => this.languages.includes(language)).map((l) => this.#kindFor(l)),
    );
    this.#pool =
      options.poolSize > 0 && this.#pooledKinds.size > 0
        ? new WarmPool({
            area: 'docker.pool',
            size: options.poolSize,
            keys: [...this.#pooledKinds],
            keyFor: (request) => this.#poolKey(request, 'none'),
            backoff: { initialMs: 1000, maxMs: 30_000 },
            start: (kind) => this.#startContainer(kind, POOL_LIMITS, 'none'),
            discard: (container) => this.track(container.remove(), () => `remove pool container ${container.id}`),
          })
        : undefined;
  }

  /**
   * Checks the daemon, runtime and image (fail closed), reaps what dead owners
   * left behind, and starts filling the warm pool.
   * @throws BackendUnavailableError when Docker, the runtime or the image is missing.
   */
  static async create(options: DockerOptions | Record<string, unknown> = {}): Promise<DockerBackendExecutor> {
    return DockerBackendExecutor.#create(options, false);
  }

  /**
   * An executor for the conformance suite's positive controls only: its containers
   * run as root with CAP_NET_RAW (no pool), so even the raw-socket probe's control
   * can reach its canary. Never hand it untrusted work.
   */
  static async createConformanceControl(
    options: DockerOptions | Record<string, unknown>,
  ): Promise<DockerBackendExecutor> {
    return DockerBackendExecutor.#create({ ...options, poolSize: 0 }, true);
  }

  static async #create(
    options: DockerOptions | Record<string, unknown>,
    conformanceControl: boolean,
  ): Promise<DockerBackendExecutor> {
    const resolved = parseDockerOptions(options);
    const api = DockerApi.connect(resolved);
    const facts = await checkDaemon(api, resolved);
    const tools = facts.foreignImage
      ? await imageTools({ api, image: resolved.image, imageId: facts.imageId })
      : undefined;
    // Under gVisor the pids limit is RLIMIT_NPROC, set through prlimit by node's supervisor
    // (python's sets it itself): without prlimit it could not be enforced.
    if (tools?.node && facts.gvisor && !tools.prlimit)
      throw new BackendUnavailableError(
        BACKEND_NAME,
        `the image ${resolved.image} has no prlimit, which the pids limit needs under gVisor (${facts.runtime})`,
        "Add util-linux (prlimit) to the image, run it under runc, or use cordon's runtime image (npx cordon image build).",
      );
    // Best effort: a failed reap must not stop this executor from working.
    const reaped = await reapDeadOwners(api).catch(ignored('docker.reaper', 'reap dead owners', []));
    if (reaped.length > 0) debug('docker.reaper', () => `reaped ${reaped.length} of dead owners: ${reaped.join(', ')}`);
    const executor = new DockerBackendExecutor({ api, options: resolved, facts, tools, conformanceControl });
    executor.#pool?.fill();
    return executor;
  }

  capabilities(): BackendCapabilities {
    return {
      name: this.name,
      languages: this.languages,
      network: 'kernel',
      // Under gVisor `pids` is RLIMIT_NPROC in the sandbox's own kernel (see SandboxSpec.gvisor).
      limits: {
        memoryBytes: 'container',
        cpus: 'container',
        pids: this.facts.gvisor ? 'rlimit' : 'container',
        outputBytes: 'streaming',
        diskBytes: 'tmpfs',
      },
      ...(this.#egressProblem === undefined
        ? {
            egress: {
              capture: 'proxy-only' as const,
              observes: ['dns', 'proxy-connect', 'proxy-http', 'socks'] as const,
              dnsUnderNone: false,
              notes: [
                "the container has no network but loopback (--network none); the image's supervisor starts a forwarder there (the program's uid) serving the HTTP and SOCKS5 proxies of HTTP(S)_PROXY and ALL_PROXY and the resolver of resolv.conf, relaying each to the execution's session of the executor's broker container (host network, the runtime image) over a unix socket on a shared volume; nothing needs the daemon host's file system",
                'a connection that ignores the proxy settings is not captured: it fails at once in the sandbox (no route: ENETUNREACH under runc, EHOSTUNREACH under gVisor) and is not in the audit; the name it resolved first is',
                ...(this.#pool
                  ? [
                      'allow-list runs with the default limits are served from a warm pool of their own, made on the first: each member mounts the broker volume with a session slot of its own, which the execution that takes it opens before its job',
                    ]
                  : []),
              ],
            },
          }
        : {}),
      notes: [
        `Docker ${this.facts.serverVersion}, OCI runtime ${this.facts.runtime}`,
        this.imageTools
          ? `image ${this.options.image}, not cordon's: ${describeTools(this.imageTools)}; cordon's runner is sent in over stdin at each start`
          : `image ${this.options.image} (node ${this.facts.imageLabels['dev.cordon.node-version'] ?? '?'})`,
        this.#pool
          ? `warm pool: ${this.options.poolSize} per runner (${[...this.#pooledKinds].join(', ')})`
          : 'warm pool disabled',
        'network none: no interface but loopback; read-only root, tmpfs workdir and /tmp, no-new-privileges',
        ...(this.#egressProblem === undefined ? [] : [`egress allow-lists are refused: ${this.#egressProblem}`]),
        this.options.sandboxUid === 'per-sandbox'
          ? 'the program runs under a host uid of its own per container, without capabilities; a root supervisor holding only CAP_SETUID, CAP_SETGID and CAP_KILL reports its exit and files'
          : `the program runs under the fixed host uid ${this.options.sandboxUid}, shared by every container (per-user kernel limits are shared too)`,
      ],
    };
  }

  /** Why this executor cannot enforce allow-lists, or undefined when it can. */
  get #egressProblem(): string | undefined {
    if (this.imageTools)
      return `the image ${this.options.image} is not cordon's (allow-lists run on the runtime image only, for now)`;
    if (!this.facts.hostUnixSockets)
      return `the gVisor runtime ${this.facts.runtime} does not let sandboxes reach unix sockets on volumes: add "--host-uds=open" to its runtimeArgs in /etc/docker/daemon.json and reload dockerd (scripts/docker-up.sh does)`;
    return undefined;
  }

  protected override warmPool(): WarmPoolView | undefined {
    return warmPoolsView([this.#pool, this.#allowPool]);
  }

  /** The pool a request can be served from (`network`: the pool's), or undefined: default limits, a pooled kind. */
  #poolKey(request: NormalizedRequest, network: 'none' | 'allow'): RunnerKind | undefined {
    const kind = this.#kindFor(request.language);
    const poolable = request.network.mode === network && sameLimits(request.limits, POOL_LIMITS);
    return poolable && this.#pooledKinds.has(kind) ? kind : undefined;
  }

  /**
   * The allow-list pool, made (and starting to fill) on the first request it could
   * serve, once the broker runs: its containers mount the broker's volume, each with a
   * slot of its own, whose session the execution that takes it opens before its job.
   * An executor that never runs an allow-list starts none of them.
   */
  #allowPoolFor(
    request: NormalizedRequest,
    broker: BrokerContainer,
  ): WarmPool<SandboxContainer, RunnerKind> | undefined {
    if (!this.#pool || this.closed || this.#poolKey(request, 'allow') === undefined) return undefined;
    // Members made for a broker that died mount its volume: they go with it.
    if (this.#allowPool && this.#allowPoolBroker !== broker) {
      const stale = this.#allowPool;
      void this.track(stale.close(), () => 'close the allow-list pool of a dead broker');
      this.#allowPool = undefined;
    }
    if (!this.#allowPool) {
      this.#allowPoolBroker = broker;
      this.#allowPool = new WarmPool({
        area: 'docker.pool',
        size: this.options.poolSize,
        keys: [...this.#pooledKinds],
        keyFor: (candidate) => this.#poolKey(candidate, 'allow'),
        backoff: { initialMs: 1000, maxMs: 30_000 },
        start: (kind) =>
          this.#startContainer(kind, POOL_LIMITS, {
            mode: 'allow',
            volume: broker.volume,
            ...ExecutorEgress.newSlot(),
          }),
        discard: (container) => this.track(container.remove(), () => `remove pool container ${container.id}`),
      });
      this.#allowPool.fill();
    }
    return this.#allowPool;
  }

  /** @deprecated since 0.2: use `idleSandboxIds`. Removed in the next release. */
  idleContainerIds(): Set<string> {
    return new Set(this.idleSandboxIds);
  }

  /** @deprecated Use `poolRefillError`; kept for one release. */
  get lastPoolError(): unknown {
    return this.poolRefillError;
  }

  protected async run(context: RunContext): Promise<RunOutcome> {
    const { request } = context;
    const kind = this.#kindFor(request.language);
    const policy = request.network.mode === 'allow' ? request.network : undefined;
    // An allow-list's broker runs before its container exists: the supervisor's command names the session's socket.
    const broker = policy ? await this.#egress.broker({ executionId: context.id, signal: context.signal }) : undefined;
    let container = broker ? this.#allowPoolFor(request, broker)?.take(request) : this.#pool?.take(request);
    if (!container) {
      const starting = this.#startContainer(
        kind,
        request.limits,
        broker
          ? { mode: 'allow', volume: broker.volume, ...ExecutorEgress.newSlot() }
          : closedNetworkMode(this.name, request.network),
        context.id,
      );
      const started = await Promise.race([starting, abortedPromise(context.signal)]);
      if (started === 'aborted') {
        // Still being created: remove it once it exists, without holding up the caller.
        void this.track(
          starting.then(
            (late) => late.remove(),
            ignored('docker.executor', () => `start of aborted execution ${context.id}`),
          ),
          () => `remove the container of aborted execution ${context.id}`,
        );
        return { exitCode: null, signal: null, oomKilled: false };
      }
      container = started;
    }
    let outcome: RunOutcome;
    let session: DaemonSession | undefined;
    let audit: EgressAuditLog | undefined;
    try {
      if (policy) {
        // Its records are emitted live as `egress` events.
        audit = new EgressAuditLog(policy.auditLimit, (record) =>
          this.events.emit('egress', { id: context.id, backend: this.name, tags: request.tags, record }),
        );
        // Opened before the job: every record on this socket is this execution's.
        session = await broker!
          .open({
            session: container.spec.egress!.key,
            gid: container.spec.programUid,
            policy,
            audit,
            signal: context.signal,
          })
          .catch((error: unknown) => {
            throw new BackendFailureError(
              BACKEND_NAME,
              `the egress session could not be opened (${error instanceof Error ? error.message : String(error)})`,
              { executionId: context.id, containerId: container.id },
              { cause: error },
            );
          });
      }
      outcome = await container.run(context);
      // The supervisor killed every program process before its trailer: nothing opens more connections.
      await session?.close();
    } catch (error) {
      // A failed run (a broken trailer, a daemon error) returns only once its container is gone.
      await this.track(container.remove(), () => `remove container ${container.id} after a failed run`);
      await session?.close().catch(ignored('docker.egress', () => `close the session of ${context.id}`));
      throw error;
    }
    void this.track(container.remove(), () => `remove container ${container.id}`);
    return audit ? { ...outcome, egress: audit.snapshot() } : outcome;
  }

  /** A started container whose program runs under its own leased uid (or the fixed one). */
  async #startContainer(
    kind: RunnerKind,
    limits: ExecutionLimits,
    network: ContainerNetwork,
    executionId?: string,
  ): Promise<SandboxContainer> {
    const fixedUid = this.options.sandboxUid === 'per-sandbox' ? undefined : this.options.sandboxUid;
    // Controls run their program as root: no uid to lease.
    const lease = fixedUid === undefined && !this.#conformanceControl ? await sandboxUidLeases().acquire() : undefined;
    const programUid = lease?.uid ?? fixedUid ?? 0;
    try {
      return await SandboxContainer.start({
        api: this.#api,
        exits: this.#exits,
        spec: this.#spec(kind, limits, network, programUid, executionId),
        lease,
      });
    } catch (error) {
      await lease?.release();
      throw error;
    }
  }

  /** Closes `resource` when this one closes (e.g. a conformance sibling executor, a network). */
  closeWith(resource: { close(): Promise<void> }): void {
    this.#owned.push(resource);
  }

  protected async dispose(): Promise<void> {
    await Promise.allSettled(this.#owned.map((owned) => owned.close()));
    await this.#pool?.close();
    await this.#allowPool?.close();
    await this.backgroundSettled();
    await this.#egress.close().catch(ignored('docker.egress', 'stop the broker'));
    this.#exits.close();
    // Anything still labelled as ours (a removal that failed, a start that raced close).
    try {
      const rest = await listCordonContainers(this.#api, { [DOCKER_LABELS.executor]: this.executorId });
      await removeContainers(
        this.#api,
        rest.map((info) => info.Id),
      );
    } catch (error) {
      // The daemon is gone: the next owner's reaper removes what is left.
      debug('docker.executor', () => `remove leftovers of executor ${this.executorId} on close`, error);
    }
  }

  #kindFor(language: Language): RunnerKind {
    return this.imageTools ? foreignKindFor(language, this.imageTools) : runnerKindFor(language);
  }

  #spec(
    kind: RunnerKind,
    limits: ExecutionLimits,
    network: ContainerNetwork,
    programUid: number,
    executionId?: string,
  ): SandboxSpec {
    return {
      image: this.options.image,
      tools: this.imageTools,
      runtime: this.options.runtime,
      gvisor: this.facts.gvisor,
      kind,
      limits,
      programUid,
      ...(typeof network === 'string'
        ? { network }
        : { network: 'allow' as const, egress: { volume: network.volume, key: network.key, socket: network.socket } }),
      openNetwork: this.options.openNetwork,
      dns: this.options.dns,
      executorId: this.executorId,
      ...(executionId ? { executionId } : {}),
      ...(this.#conformanceControl ? { conformanceControl: true } : {}),
    };
  }
}

/** A container's network: closed or open, or an allow-list's (no network; the forwarder relays to `socket` on `volume`). */
type ContainerNetwork =
  'none' | 'open' | { readonly mode: 'allow'; readonly volume: string; readonly key: string; readonly socket: string };

function sameLimits(a: ExecutionLimits, b: ExecutionLimits): boolean {
  return LIMIT_NAMES.every((name) => name === 'outputBytes' || a[name] === b[name]);
}

function abortedPromise(signal: AbortSignal): Promise<'aborted'> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve('aborted');
    signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
}

function describeTools(tools: ImageTools): string {
  const found = [
    tools.node ? `node at ${tools.node}` : 'no node',
    tools.python ? `python3 at ${tools.python}` : 'no python3',
    tools.bash ? `bash at ${tools.bash}` : 'no bash',
  ];
  return found.join(', ');
}
