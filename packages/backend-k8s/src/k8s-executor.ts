import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BackendFailureError,
  BaseExecutor,
  IsolationRefusedError,
  DEFAULT_LIMITS,
  DEFAULT_TIMEOUT_MS,
  LABELS,
  SESSION_ID,
  type BackendCapabilities,
  type NormalizedRequest,
  type RunContext,
  type RunOutcome,
} from '@cordon/core';
import { verifyIsolation } from './isolation-check.js';
import { GATE_EXIT_CODE, GATE_MESSAGE_PREFIX, gateSource } from './network-gate.js';
import { KubeApi } from './kube-api.js';
import {
  BACKEND_NAME,
  cordonSelector,
  deadlineSeconds,
  DENY_ALL_POLICY_NAME,
  EXECUTOR_LABEL,
  hardenedPodManifest,
  podCommand,
  podUid,
  POOL_LABEL,
} from './manifests.js';
import { parseK8sOptions, type K8sOptions } from './options.js';
import { attachAndRun } from './pod-attach.js';
import { createPod, deletePod, waitForRunning, waitForTermination } from './pod-lifecycle.js';
import { reapDeadSessions, sessionPods, type SessionPod } from './reaper.js';
import {
  encodePayload,
  newNonce,
  RunnerTrailerError,
  runnerKindFor,
  supervisorCommand,
  type RunnerKind,
} from './runner-protocol.js';
import { checkPolicies, ensureDenyAllPolicy, ensureNamespace } from './tenant-guard.js';
import { WarmPool, type WarmPod } from './warm-pool.js';

/** Passed (or running) isolation checks, per cluster and tenant; see #verifyOncePerTenant. */
const VERIFIED_TENANTS = new Map<string, Promise<void>>();

/** How long `close()` waits for this session's pods to be gone from the API. */
const DISPOSE_WAIT_MS = 30_000;
/** How long to wait for the kubelet to report why a container died (only read when the runner died by SIGKILL). */
const TERMINATION_STATUS_WAIT_MS = 10_000;

interface PodRef {
  namespace: string;
  name: string;
}

/**
 * Runs each execution in a single-use hardened pod. Before the first pod, the tenant
 * namespace gets a deny-all NetworkPolicy that is checked as created and proven
 * enforced by a probe (fail closed). A small pool of pre-started pods keeps
 * scheduling and container start off the request path.
 */
export class K8sExecutor extends BaseExecutor {
  readonly name = BACKEND_NAME;
  readonly options: K8sOptions;
  readonly api: KubeApi;
  /** Labels this instance's pods, so close() and leftovers() never touch another executor's. */
  readonly instanceId = randomBytes(4).toString('hex');
  /** One pool per booted runner (node also serves bash; python has its own). */
  readonly #pools = new Map<RunnerKind, WarmPool>();
  /** Pods this executor made and has not seen deleted yet. */
  readonly #pods = new Map<string, PodRef>();
  readonly #deletions = new Set<Promise<void>>();
  #guard: Promise<void> | undefined;
  readonly #closeWith: K8sExecutor[] = [];
  /** limits.pids is applied per pod only when each pod has a uid of its own. */
  get #perPodPids(): boolean {
    return this.options.runAsUser === 'per-pod';
  }
  #reapTimer: NodeJS.Timeout | undefined;
  #poolError: unknown;

  /** The options as given to `create`, for making a sibling executor. */
  readonly createOptions: Record<string, unknown>;

  private constructor(options: K8sOptions, api: KubeApi, createOptions: Record<string, unknown>) {
    super(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency });
    this.options = options;
    this.api = api;
    this.createOptions = createOptions;
    if (options.poolSize > 0) {
      for (const kind of ['node', 'python'] as const) {
        this.#pools.set(
          kind,
          new WarmPool({
            size: options.poolSize,
            maxAgeMs: options.warmPodMaxAgeMs,
            limits: { ...DEFAULT_LIMITS },
            start: (name) => this.#startWarmPod(name, kind),
            remove: (pod) => this.#forget(pod),
            onError: (error) => {
              this.#poolError = error;
            },
          }),
        );
      }
    }
  }

  /**
   * Validates options and connects. The tenant guard (namespaces, policy, isolation
   * check) runs on `ready()` or before the first execution.
   */
  static create(options: Record<string, unknown> = {}): K8sExecutor {
    const parsed = parseK8sOptions(options);
    const api = KubeApi.load(parsed);
    return new K8sExecutor(parsed, api, { ...options });
  }

  capabilities(): BackendCapabilities {
    return {
      name: BACKEND_NAME,
      languages: ['node', 'python', 'bash'],
      network: 'kernel',
      limits: {
        memoryBytes: 'pod',
        cpus: 'pod',
        pids: this.#perPodPids ? 'rlimit' : 'node-wide',
        outputBytes: 'streaming',
        diskBytes: 'tmpfs',
      },
      notes: [
        `pods in namespace ${this.options.namespace} behind NetworkPolicy ${DENY_ALL_POLICY_NAME} (ingress and egress, DNS included)${this.options.verifyIsolation ? ', enforcement proven by a probe pod once per tenant' : ' (enforcement probe disabled)'}`,
        this.#perPodPids
          ? "limits.pids is RLIMIT_NPROC for a uid of the pod's own (processes and threads); the kubelet's podPidsLimit (a node-wide setting) is the cgroup backstop"
          : "limits.pids is not applied: with a fixed runAsUser the PID limit is the kubelet's podPidsLimit (a node-wide setting)",
        `image ${this.options.image} (imagePullPolicy ${this.options.imagePullPolicy})${this.options.runtimeClassName ? `, runtimeClassName ${this.options.runtimeClassName}` : ''}`,
        `warm pool: ${this.options.poolSize} pod(s)`,
      ],
    };
  }

  protected override networkRemedy(): string {
    return 'Use a cluster whose network plugin enforces NetworkPolicy (GKE Dataplane V2).';
  }

  /**
   * Sets up the tenant (namespaces, deny-all policy, isolation check), reaps dead
   * sessions' pods and fills the pool. Runs once; a failure is thrown to every
   * caller and retried on the next call.
   */
  ready(signal?: AbortSignal): Promise<void> {
    // Shared by every caller, so it never runs under one caller's signal: one aborted
    // execution must not fail the setup for the others (API deadlines bound it).
    this.#guard ??= this.#setUp().catch((error: unknown) => {
      this.#guard = undefined;
      throw error;
    });
    if (!signal) return this.#guard;
    const guard = this.#guard;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      guard.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Resolves when the warm pool has finished its current refill; for tests and benchmarks. */
  async poolSettled(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.settled()));
  }

  /** Ready pool pods, all runners together. */
  get warmPods(): number {
    return [...this.#pools.values()].reduce((sum, pool) => sum + pool.readyCount, 0);
  }

  /** The last error seen while refilling the pool (e.g. a missing image), if any. */
  get poolError(): unknown {
    return this.#poolError;
  }

  async #setUp(): Promise<void> {
    const { namespace, controlNamespace, createNamespaces } = this.options;
    await ensureNamespace(this.api, namespace, 'tenant', createNamespaces);
    await ensureNamespace(this.api, controlNamespace, 'control', createNamespaces);
    await ensureDenyAllPolicy(this.api, namespace);
    if (this.options.verifyIsolation) await this.#verifyOncePerTenant();
    await reapDeadSessions(this.api, [namespace, controlNamespace]);
    if (this.options.reapIntervalMs > 0) {
      this.#reapTimer = setInterval(
        () => void reapDeadSessions(this.api, [namespace, controlNamespace]),
        this.options.reapIntervalMs,
      );
      this.#reapTimer.unref();
    }
    for (const pool of this.#pools.values()) pool.fill();
  }

  /**
   * The enforcement probe runs once per tenant per process: executors of the same
   * cluster, tenant, control namespace and image share a passed check. A failed one
   * is not kept, so the next setup tries again.
   */
  async #verifyOncePerTenant(): Promise<void> {
    const { namespace, controlNamespace, image, runtimeClassName } = this.options;
    const key = JSON.stringify([this.api.server, namespace, controlNamespace, image, runtimeClassName ?? '']);
    let check = VERIFIED_TENANTS.get(key);
    if (!check) {
      check = verifyIsolation(this.api, this.options, { [EXECUTOR_LABEL]: this.instanceId });
      VERIFIED_TENANTS.set(key, check);
      check.catch(() => VERIFIED_TENANTS.delete(key));
    }
    await check;
  }

  protected async run(context: RunContext): Promise<RunOutcome> {
    const { request, signal } = context;
    try {
      await this.ready(signal);
    } catch (error) {
      if (signal.aborted) return stopped();
      throw error;
    }
    // Re-check the policy object before every pod (cheap: one list), so a policy deleted
    // or loosened after setup stops new runs instead of letting them out.
    await checkPolicies(this.api, this.options.namespace, signal);
    if (signal.aborted) return stopped();

    const warm = this.#pools.get(runnerKindFor(request.language))?.take(request);
    let pod: PodRef;
    if (warm) {
      pod = warm;
      this.#labelExecution(warm, context.id);
    } else {
      const cold = await this.#startColdPod(context);
      if (!cold) return stopped();
      pod = cold;
    }

    try {
      const outcome = await this.#runInPod(pod, context);
      // Success: the deletion runs in the background (close() and settled() wait for it).
      void this.#forget(pod);
      return outcome;
    } catch (error) {
      // Failure: nothing of the run may outlive execute(), even if the caller dies next.
      await this.#forget(pod);
      throw error;
    }
  }

  async #runInPod(pod: PodRef, context: RunContext): Promise<RunOutcome> {
    const { request, signal } = context;
    const nonce = newNonce();
    const payload = encodePayload(request, nonce);
    const outcome = await attachAndRun(
      this.api,
      pod.namespace,
      pod.name,
      { payload, stdin: request.stdin, nonce, request },
      {
        stdout: (chunk) => context.stdout.write(chunk),
        stderr: (chunk) => context.stderr.write(chunk),
      },
      this.options.apiTimeoutMs,
      signal,
    );
    switch (outcome.kind) {
      case 'result': {
        const { exitCode, signal: exitSignal, files, filesTruncated, warnings } = outcome.result;
        // A child killed by SIGKILL may be the memory limit at work: the kubelet reports it.
        const oomKilled =
          exitSignal === 'SIGKILL' &&
          (await waitForTermination(this.api, pod.namespace, pod.name, TERMINATION_STATUS_WAIT_MS))?.reason ===
            'OOMKilled';
        return { exitCode, signal: exitSignal, oomKilled, files, filesTruncated, warnings };
      }
      case 'broken':
        throw new RunnerTrailerError(BACKEND_NAME, outcome.problem, { executionId: context.id, pod: pod.name });
      case 'stopped':
        return stopped();
      case 'closed': {
        if (signal.aborted) return stopped();
        // The supervisor died without a result: the memory limit killed it, or the pod went away.
        const terminated = await waitForTermination(this.api, pod.namespace, pod.name, TERMINATION_STATUS_WAIT_MS);
        if (terminated?.reason === 'OOMKilled') return { exitCode: null, signal: 'SIGKILL', oomKilled: true };
        if (terminated?.exitCode === GATE_EXIT_CODE && terminated.message?.startsWith(GATE_MESSAGE_PREFIX)) {
          throw new IsolationRefusedError(
            BACKEND_NAME,
            'network',
            `is not enforced for pod ${pod.namespace}/${pod.name}: ${terminated.message}`,
            'Check the network plugin (it enforced the policy for the isolation check, but not for this pod in time), or raise networkGateTimeoutMs.',
          );
        }
        const detail = [
          terminated
            ? `container ${terminated.reason ?? 'terminated'} with exit code ${terminated.exitCode}`
            : 'no container state',
          outcome.status?.message,
          outcome.diagnostics.trim(),
        ]
          .filter(Boolean)
          .join('; ');
        throw new BackendFailureError(
          BACKEND_NAME,
          `the stream from pod ${pod.namespace}/${pod.name} ended without a result (${detail})`,
          { executionId: context.id, pod: pod.name },
        );
      }
    }
  }

  /** Creates a pod for this request and waits until its runner runs; undefined when stopped first. */
  async #startColdPod(context: RunContext): Promise<PodRef | undefined> {
    const { request, signal } = context;
    const open = request.network.mode === 'open';
    const pod: PodRef = {
      namespace: open ? this.options.controlNamespace : this.options.namespace,
      name: `cordon-${context.id}`,
    };
    const manifest = this.#sandboxManifest(
      pod,
      runnerKindFor(request.language),
      request.limits,
      deadlineSeconds(this.options.podStartTimeoutMs, request.timeoutMs),
      !open,
      {
        [LABELS.execution]: context.id,
        [POOL_LABEL]: 'cold',
      },
    );
    this.#pods.set(key(pod), pod);
    try {
      await createPod(this.api, manifest, signal);
      await waitForRunning(
        this.api,
        pod.namespace,
        pod.name,
        this.options.image,
        this.options.podStartTimeoutMs,
        signal,
      );
      return pod;
    } catch (error) {
      // Awaited: a failed (or aborted) start leaves no pod once execute() returns.
      await this.#forget(pod);
      if (signal.aborted) return undefined;
      throw error;
    }
  }

  async #startWarmPod(name: string, kind: RunnerKind): Promise<WarmPod> {
    const pod: PodRef = { namespace: this.options.namespace, name };
    const activeDeadlineSeconds = deadlineSeconds(this.options.warmPodMaxAgeMs, DEFAULT_TIMEOUT_MS);
    const manifest = this.#sandboxManifest(pod, kind, DEFAULT_LIMITS, activeDeadlineSeconds, true, {
      [POOL_LABEL]: 'warm',
    });
    this.#pods.set(key(pod), pod);
    const createdAt = performance.now();
    try {
      await createPod(this.api, manifest);
      await waitForRunning(this.api, pod.namespace, pod.name, this.options.image, this.options.podStartTimeoutMs);
      return { ...pod, createdAt, activeDeadlineSeconds };
    } catch (error) {
      void this.#forget(pod);
      throw error;
    }
  }

  #sandboxManifest(
    pod: PodRef,
    kind: RunnerKind,
    limits: NormalizedRequest['limits'] | typeof DEFAULT_LIMITS,
    deadline: number,
    noNetwork: boolean,
    labels: Record<string, string>,
  ) {
    const programUid = podUid(this.options);
    return hardenedPodManifest({
      name: pod.name,
      namespace: pod.namespace,
      role: 'sandbox',
      options: this.options,
      labels: { ...labels, [EXECUTOR_LABEL]: this.instanceId },
      runAs: { kind: 'supervisor', programUid },
      // Pods behind the policy wait until it holds for them before the supervisor takes code.
      command: podCommand({
        command: supervisorCommand({ kind, programUid, nproc: this.#perPodPids ? limits.pids : undefined }),
        gateSource: noNetwork ? gateSource(this.options.networkGateTimeoutMs) : undefined,
      }),
      stdin: true,
      limits,
      activeDeadlineSeconds: deadline,
      noNetwork,
    });
  }

  /** Puts the execution id on a pool pod's labels; best effort, off the request path. */
  #labelExecution(pod: PodRef, executionId: string): void {
    void this.api
      .call(
        `patch pods in namespace ${pod.namespace}`,
        (options) =>
          this.api.core.patchNamespacedPod(
            {
              name: pod.name,
              namespace: pod.namespace,
              body: { metadata: { labels: { [LABELS.execution]: executionId } } },
            },
            options,
          ),
        { contentType: 'application/merge-patch+json', allow: [404, 409, 422] },
      )
      .catch(() => undefined);
  }

  /** Deletes a pod in the background; `close()` and `settled()` wait for every such deletion. */
  #forget(pod: PodRef): Promise<void> {
    const deletion = this.#removePod(pod);
    this.#deletions.add(deletion);
    void deletion.finally(() => this.#deletions.delete(deletion));
    return deletion;
  }

  /**
   * Resolves once background work is done: pool refills, deletions, and deleted pods
   * actually gone from the API (bounded). For leak checks while the executor is open.
   */
  async settled(): Promise<void> {
    await this.poolSettled();
    while (this.#deletions.size > 0) await Promise.allSettled([...this.#deletions]);
    const deadline = performance.now() + DISPOSE_WAIT_MS;
    while (performance.now() < deadline) {
      const found = await sessionPods(
        this.api,
        [this.options.namespace, this.options.controlNamespace],
        this.instanceId,
      ).catch(() => []);
      if (!found.some((pod) => pod.phase === 'Terminating')) return;
      await sleep(250);
    }
  }

  async #removePod(pod: PodRef): Promise<void> {
    try {
      await deletePod(this.api, pod.namespace, pod.name);
      this.#pods.delete(key(pod));
    } catch {
      // Kept in #pods: dispose() tries again, and the reaper of a later session would find it.
    }
  }

  /** Deletes every pod with this session's label that is not already being deleted. */
  async #deleteSessionPods(): Promise<void> {
    for (const namespace of [this.options.namespace, this.options.controlNamespace]) {
      const list = await this.api
        .call(`list pods in namespace ${namespace}`, (options) =>
          this.api.core.listNamespacedPod(
            { namespace, labelSelector: cordonSelector(SESSION_ID, this.instanceId) },
            options,
          ),
        )
        .catch(() => undefined);
      for (const pod of list?.items ?? []) {
        if (pod.metadata?.name && !pod.metadata.deletionTimestamp)
          await this.#removePod({ namespace, name: pod.metadata.name });
      }
    }
  }

  /**
   * What this executor still has in the cluster, by its session and instance labels
   * (for leak checks). Idle pool pods are expected while it is open and are not listed.
   */
  async leftovers(): Promise<string[]> {
    if (!this.closed) await this.settled();
    const found = await sessionPods(this.api, [this.options.namespace, this.options.controlNamespace], this.instanceId);
    if (this.closed) return found.map(describePod);
    const pools = [...this.#pools.values()];
    return found.filter((pod) => !pools.some((pool) => pool.owns(pod.name))).map(describePod);
  }

  /** Closes `other` when this executor closes (the conformance adapter's sibling). */
  closeWith(other: K8sExecutor): void {
    this.#closeWith.push(other);
  }

  protected async dispose(): Promise<void> {
    await Promise.allSettled(this.#closeWith.map((other) => other.close()));
    if (this.#reapTimer) clearInterval(this.#reapTimer);
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    await Promise.allSettled([...this.#deletions]);
    await Promise.allSettled([...this.#pods.values()].map((pod) => this.#removePod(pod)));
    // Deletion is asynchronous in Kubernetes: wait until the pods are really gone, so
    // nothing this session made outlives close().
    const deadline = performance.now() + DISPOSE_WAIT_MS;
    for (;;) {
      let remaining: string[];
      try {
        remaining = await this.leftovers();
      } catch {
        return;
      }
      if (remaining.length === 0 || performance.now() > deadline) return;
      await this.#deleteSessionPods();
      await sleep(250);
    }
  }
}

function describePod(pod: SessionPod): string {
  return `pod ${pod.namespace}/${pod.name} (${pod.phase})`;
}

function stopped(): RunOutcome {
  return { exitCode: null, signal: 'SIGKILL', oomKilled: false };
}

function key(pod: PodRef): string {
  return `${pod.namespace}/${pod.name}`;
}
