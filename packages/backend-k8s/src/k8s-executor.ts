import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_TIMEOUT_MS,
  InvalidRequestError,
  LANGUAGES,
  type BackendCapabilities,
  type Language,
} from '@cordon/core';
import {
  BaseExecutor,
  debug,
  foreignKindFor,
  ignored,
  languagesOfTools,
  LABELS,
  type RunContext,
  type RunOutcome,
  type WarmPool,
} from '@cordon/core/backend';
import { imageSetup, isCordonImage, type ImageSetup } from './image-tools.js';
import { KubeApi } from './kube-api.js';
import { BACKEND_NAME, deadlineSeconds, DENY_ALL_POLICY_NAME, EXECUTOR_LABEL, POOL_LABEL } from './manifests.js';
import { parseK8sOptions, type K8sOptions, type ParsedK8sOptions } from './options.js';
import { PodTracker } from './pod-tracker.js';
import { deleteOwnedPods, reapDeadOwners, ownedPods, type OwnedPod } from './reaper.js';
import { runnerKindFor, type RunnerKind } from '@cordon/core/backend';
import { appliesPidsPerPod, type SandboxPodSpec } from './sandbox-manifest.js';
import { SandboxPod, stoppedOutcome } from './sandbox-pod.js';
import { Tenant } from './tenant.js';
import { WARM_POD_LIMITS, warmPodPool } from './warm-pods.js';

/** How long `close()` waits for this owner's pods to be gone from the API. */
const DISPOSE_WAIT_MS = 30_000;

/**
 * Runs each execution in a single-use hardened pod (a SandboxPod). Before the first
 * pod, the tenant namespace gets a deny-all NetworkPolicy that is checked as created
 * and proven enforced by a probe (fail closed). A small pool of pre-started pods keeps
 * scheduling and container start off the request path.
 */
export class K8sExecutor extends BaseExecutor {
  readonly name = BACKEND_NAME;
  readonly options: ParsedK8sOptions;
  readonly api: KubeApi;
  /** Labels this instance's pods, so close() and leftovers() never touch another executor's. */
  readonly instanceId = randomBytes(4).toString('hex');
  readonly #tenant: Tenant;
  /** Warm pods per booted runner (node also serves bash; python has its own); made once the image is known. */
  #pool: WarmPool<SandboxPod, RunnerKind> | undefined;
  /** How pods run the image: known after `resolveImage()` (part of `ready()`). */
  #image: ImageSetup | undefined;
  #imageResolving: Promise<ImageSetup> | undefined;
  /** Names of warm pods being started: the pool's, not leftovers. */
  readonly #warmStarting = new Set<string>();
  /** Pods this executor made and has not seen deleted yet, and the deletions under way. */
  readonly #tracker: PodTracker;
  #guard: Promise<void> | undefined;
  readonly #closeWith: K8sExecutor[] = [];
  #reapTimer: NodeJS.Timeout | undefined;

  /** The options as given to `create`, for making a sibling executor. */
  readonly createOptions: Record<string, unknown>;

  private constructor(options: ParsedK8sOptions, api: KubeApi, createOptions: Record<string, unknown>) {
    super(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency });
    this.options = options;
    this.api = api;
    this.createOptions = createOptions;
    this.#tracker = new PodTracker(api);
    this.#tenant = new Tenant({ api, options, probeLabels: { [EXECUTOR_LABEL]: this.instanceId } });
  }

  /**
   * Finds out how pods run the image (cordon's runner in it, or a user's image and its
   * tools: see image-tools.ts); once per process and image. `capabilities()` is exact
   * after it (`backend.create` awaits it).
   */
  resolveImage(signal?: AbortSignal): Promise<ImageSetup> {
    this.#imageResolving ??= (async () => {
      // The probe pod (a user's image only) runs in the tenant namespace, behind its deny-all policy.
      if (!isCordonImage(this.options)) await this.#tenant.ensureNamespaces();
      return imageSetup({
        api: this.api,
        options: this.options,
        labels: { [EXECUTOR_LABEL]: this.instanceId },
        signal,
      });
    })().then(
      (setup) => (this.#image = setup),
      (error: unknown) => {
        this.#imageResolving = undefined;
        throw error;
      },
    );
    return this.#imageResolving;
  }

  /** The languages the image offers: all three for cordon's image (or before `resolveImage`). */
  get #languages(): readonly Language[] {
    return this.#image?.kind === 'own' ? languagesOfTools(this.#image.tools) : LANGUAGES;
  }

  #kindFor(language: Language): RunnerKind {
    return this.#image?.kind === 'own' ? foreignKindFor(language, this.#image.tools) : runnerKindFor(language);
  }

  /**
   * Validates options and connects. The tenant guard (namespaces, policy, isolation
   * check) runs on `ready()` or before the first execution.
   */
  static create(options: K8sOptions | Record<string, unknown> = {}): K8sExecutor {
    const parsed = parseK8sOptions(options);
    const api = KubeApi.load(parsed);
    return new K8sExecutor(parsed, api, { ...options });
  }

  capabilities(): BackendCapabilities {
    const tools = this.#image?.kind === 'own' ? this.#image.tools : undefined;
    const perPodPids = appliesPidsPerPod(this.options, tools);
    return {
      name: BACKEND_NAME,
      languages: this.#languages,
      network: 'kernel',
      limits: {
        memoryBytes: 'pod',
        cpus: 'pod',
        pids: perPodPids ? 'rlimit' : 'node-wide',
        outputBytes: 'streaming',
        diskBytes: 'tmpfs',
      },
      notes: [
        `pods in namespace ${this.options.namespace} behind NetworkPolicy ${DENY_ALL_POLICY_NAME} (ingress and egress, DNS included)${this.options.verifyIsolation ? ', enforcement proven by a probe pod once per tenant' : ' (enforcement probe disabled)'}`,
        perPodPids
          ? "limits.pids is RLIMIT_NPROC for a uid of the pod's own (processes and threads); the kubelet's podPidsLimit (a node-wide setting) is the cgroup backstop"
          : "limits.pids is not applied: with a fixed runAsUser the PID limit is the kubelet's podPidsLimit (a node-wide setting)",
        `image ${this.options.image} (imagePullPolicy ${this.options.imagePullPolicy})${this.options.runtimeClassName ? `, runtimeClassName ${this.options.runtimeClassName}` : ''}${describeImage(this.#image)}`,
        `warm pool: ${this.options.poolSize} pod(s)`,
      ],
    };
  }

  protected override networkRemedy(): string {
    return 'Use a cluster whose network plugin enforces NetworkPolicy (GKE Dataplane V2).';
  }

  /**
   * Sets up the tenant (namespaces, deny-all policy, isolation check), reaps dead
   * owners' pods and fills the pool. Runs once; a failure is thrown to every
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

  /** @deprecated Use `settled()`; kept for one release. */
  poolSettled(): Promise<void> {
    return this.settled();
  }

  /** Ready pool pods, all runners together (`idleSandboxIds` names them). */
  get warmPods(): number {
    return this.idleSandboxIds.size;
  }

  protected override warmPool(): WarmPool<SandboxPod, RunnerKind> | undefined {
    return this.#pool;
  }

  /** @deprecated Use `poolRefillError`; kept for one release. */
  get poolError(): unknown {
    return this.poolRefillError;
  }

  async #setUp(): Promise<void> {
    const image = await this.resolveImage();
    // The isolation check's pods run the image's own interpreter.
    await this.#tenant.setUp(
      image.kind === 'own' ? { interpreter: image.tools.node ? 'node' : 'python', shell: image.tools.sh } : {},
    );
    if (this.options.poolSize > 0 && !this.closed) {
      const kinds = [...new Set(this.#languages.map((language) => this.#kindFor(language)))];
      this.#pool ??= warmPodPool({
        size: this.options.poolSize,
        maxAgeMs: this.options.warmPodMaxAgeMs,
        kinds,
        kindFor: (language) => this.#kindFor(language),
        start: (kind) => this.#startWarmPod(kind),
        remove: (pod) => pod.remove(),
      });
    }
    const namespaces = this.#tenant.namespaces;
    await reapDeadOwners(this.api, namespaces);
    if (this.options.reapIntervalMs > 0) {
      this.#reapTimer = setInterval(() => void reapDeadOwners(this.api, namespaces), this.options.reapIntervalMs);
      this.#reapTimer.unref();
    }
    this.#pool?.fill();
  }

  protected async run(context: RunContext): Promise<RunOutcome> {
    const { request, signal } = context;
    try {
      await this.ready(signal);
    } catch (error) {
      if (signal.aborted) return stoppedOutcome();
      throw error;
    }
    await this.#tenant.checkPolicies(signal);
    if (signal.aborted) return stoppedOutcome();
    // Before resolveImage every language was offered; the image may lack this one.
    if (!this.#languages.includes(request.language))
      throw new InvalidRequestError(
        'language',
        request.language,
        `is not offered by the image ${this.options.image} (it has ${this.#languages.join(', ') || 'none'})`,
      );

    let pod = this.#pool?.take(request);
    if (pod) {
      pod.labelExecution(context.id);
    } else {
      pod = await this.#startColdPod(context);
      if (!pod) return stoppedOutcome();
    }

    try {
      const outcome = await pod.run(context);
      // Success: the deletion runs in the background (close() and settled() wait for it).
      void this.track(pod.remove(), () => `delete pod ${pod.name}`);
      return outcome;
    } catch (error) {
      // Failure: nothing of the run may outlive execute(), even if the caller dies next.
      await pod.remove();
      throw error;
    }
  }

  /** Starts a pod for this request; undefined when stopped first (the pod is gone by then). */
  async #startColdPod(context: RunContext): Promise<SandboxPod | undefined> {
    const { request, signal } = context;
    const open = request.network.mode === 'open';
    try {
      return await SandboxPod.start({
        api: this.api,
        tracker: this.#tracker,
        spec: this.#spec({
          name: `cordon-${context.id}`,
          namespace: open ? this.options.unrestrictedNamespace : this.options.namespace,
          kind: this.#kindFor(request.language),
          limits: request.limits,
          activeDeadlineSeconds: deadlineSeconds(this.options.podStartTimeoutMs, request.timeoutMs),
          noNetwork: !open,
          labels: { [LABELS.execution]: context.id, [POOL_LABEL]: 'cold' },
        }),
        // Awaited: a failed (or aborted) start leaves no pod once execute() returns.
        failedStartRemoval: 'awaited',
        signal,
      });
    } catch (error) {
      if (signal.aborted) return undefined;
      throw error;
    }
  }

  async #startWarmPod(kind: RunnerKind): Promise<SandboxPod> {
    const name = `cordon-warm-${randomBytes(6).toString('hex')}`;
    this.#warmStarting.add(name);
    try {
      return await this.#startPod(name, kind);
    } finally {
      this.#warmStarting.delete(name);
    }
  }

  #startPod(name: string, kind: RunnerKind): Promise<SandboxPod> {
    return SandboxPod.start({
      api: this.api,
      tracker: this.#tracker,
      spec: this.#spec({
        name,
        namespace: this.options.namespace,
        kind,
        limits: WARM_POD_LIMITS,
        activeDeadlineSeconds: deadlineSeconds(this.options.warmPodMaxAgeMs, DEFAULT_TIMEOUT_MS),
        noNetwork: true,
        labels: { [POOL_LABEL]: 'warm' },
      }),
      failedStartRemoval: 'background',
    });
  }

  #spec(spec: Omit<SandboxPodSpec, 'options' | 'executorId'>): SandboxPodSpec {
    const tools = this.#image?.kind === 'own' ? this.#image.tools : undefined;
    return { ...spec, options: this.options, executorId: this.instanceId, tools };
  }

  /** Besides pool refills and deletions: deleted pods actually gone from the API (bounded). */
  protected override async settleBackend(): Promise<void> {
    await this.#tracker.settled();
    const deadline = performance.now() + DISPOSE_WAIT_MS;
    while (performance.now() < deadline) {
      const found = await ownedPods(this.api, this.#tenant.namespaces, this.instanceId).catch(
        ignored('k8s.executor', () => `list pods of executor ${this.instanceId}`, []),
      );
      if (!found.some((pod) => pod.phase === 'Terminating')) return;
      await sleep(250);
    }
  }

  /**
   * What this executor still has in the cluster, by its owner and instance labels
   * (for leak checks). Idle pool pods are expected while it is open and are not listed.
   */
  async leftovers(): Promise<string[]> {
    if (!this.closed) await this.settled();
    const found = await ownedPods(this.api, this.#tenant.namespaces, this.instanceId);
    if (this.closed) return found.map(describePod);
    return found
      .filter((pod) => !this.#warmStarting.has(pod.name) && !(this.#pool?.owns(pod.name) ?? false))
      .map(describePod);
  }

  /** Closes `other` when this executor closes (the conformance adapter's sibling). */
  closeWith(other: K8sExecutor): void {
    this.#closeWith.push(other);
  }

  protected async dispose(): Promise<void> {
    await Promise.allSettled(this.#closeWith.map((other) => other.close()));
    if (this.#reapTimer) clearInterval(this.#reapTimer);
    await this.#pool?.close();
    await this.#tracker.removeAll();
    // Deletion is asynchronous in Kubernetes: wait until the pods are really gone, so
    // nothing this owner made outlives close().
    const deadline = performance.now() + DISPOSE_WAIT_MS;
    for (;;) {
      let remaining: string[];
      try {
        remaining = await this.leftovers();
      } catch (error) {
        debug('k8s.executor', () => `list leftovers of executor ${this.instanceId} on close`, error);
        return;
      }
      if (remaining.length === 0 || performance.now() > deadline) return;
      await deleteOwnedPods({
        api: this.api,
        namespaces: this.#tenant.namespaces,
        executor: this.instanceId,
        remove: (pod) => this.#tracker.delete(pod),
      });
      await sleep(250);
    }
  }
}

function describePod(pod: OwnedPod): string {
  return `pod ${pod.namespace}/${pod.name} (${pod.phase})`;
}

function describeImage(image: ImageSetup | undefined): string {
  if (!image) return '';
  if (image.kind === 'cordon') return ", cordon's runtime image";
  const { tools } = image;
  const found = [
    tools.node ? `node at ${tools.node}` : 'no node',
    tools.python ? `python3 at ${tools.python}` : 'no python3',
    tools.bash ? `bash at ${tools.bash}` : 'no bash',
  ];
  return `, not cordon's: ${found.join(', ')}; cordon's runner is sent in over the attach at each start`;
}
