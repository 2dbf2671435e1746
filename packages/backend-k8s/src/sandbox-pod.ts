import { BackendFailureError, IsolationRefusedError } from '@cordon/core';
import {
  encodePayload,
  ignored,
  runnerBundleFrame,
  LABELS,
  newRunnerNonce,
  RunnerTrailerError,
  type RunContext,
  type RunOutcome,
} from '@cordon/core/backend';
import type { V1ContainerStateTerminated } from '@kubernetes/client-node';
import type { KubeApi } from './kube-api.js';
import { BACKEND_NAME } from './manifests.js';
import { GATE_EXIT_CODE, GATE_MESSAGE_PREFIX } from './network-gate.js';
import { attachAndRun } from './pod-attach.js';
import { createPod, waitForRunning, waitForTermination } from './pod-lifecycle.js';
import type { PodTracker } from './pod-tracker.js';
import { sandboxPodManifest, type SandboxPodSpec } from './sandbox-manifest.js';

/** How long to wait for the kubelet to report why a container died (only read when the runner died by SIGKILL). */
const TERMINATION_STATUS_WAIT_MS = 10_000;

export interface SandboxPodStart {
  api: KubeApi;
  /** Records the pod before it exists and tracks its deletion, for close() and settled(). */
  tracker: PodTracker;
  spec: SandboxPodSpec;
  /**
   * A failed start removes the pod: `awaited` for a request's own pod (nothing of a run
   * outlives execute()), `background` for a pool pod (close() awaits the deletion).
   */
  failedStartRemoval: 'awaited' | 'background';
  signal?: AbortSignal | undefined;
}

/** What a run that was stopped (aborted, timed out) returns: the pod is deleted, its program with it. */
export function stoppedOutcome(): RunOutcome {
  return { exitCode: null, signal: 'SIGKILL', oomKilled: false };
}

/**
 * One started, single-use sandbox pod whose supervisor is booted and waiting for its
 * payload on stdin. `run` may be called once; the owner removes it.
 */
export class SandboxPod {
  readonly namespace: string;
  readonly name: string;
  /** `performance.now()` when the pod was created. */
  readonly createdAt: number;
  readonly activeDeadlineSeconds: number;
  readonly #api: KubeApi;
  readonly #tracker: PodTracker;
  readonly #apiTimeoutMs: number;
  /** A user's image: cordon's runner goes in ahead of the payload. */
  readonly #sendsRunner: boolean;
  #used = false;
  #removal: Promise<void> | undefined;

  private constructor(params: { api: KubeApi; tracker: PodTracker; spec: SandboxPodSpec; createdAt: number }) {
    const { spec } = params;
    this.namespace = spec.namespace;
    this.name = spec.name;
    this.createdAt = params.createdAt;
    this.activeDeadlineSeconds = spec.activeDeadlineSeconds;
    this.#api = params.api;
    this.#tracker = params.tracker;
    this.#apiTimeoutMs = spec.options.apiTimeoutMs;
    this.#sendsRunner = spec.tools !== undefined;
  }

  /** Its name (unique in its namespace): the id a warm pool knows it by. */
  get id(): string {
    return this.name;
  }

  /** Creates the pod and resolves once its supervisor runs; a failed (or aborted) start removes it. */
  static async start(params: SandboxPodStart): Promise<SandboxPod> {
    const { api, tracker, spec, signal } = params;
    const manifest = sandboxPodManifest(spec);
    tracker.add(spec);
    const pod = new SandboxPod({ api, tracker, spec, createdAt: performance.now() });
    try {
      await createPod(api, manifest, signal);
      await waitForRunning(api, spec.namespace, spec.name, spec.options.image, spec.options.podStartTimeoutMs, signal);
      return pod;
    } catch (error) {
      const removal = pod.remove();
      if (params.failedStartRemoval === 'awaited') await removal;
      throw error;
    }
  }

  /**
   * Attaches, sends the payload and stdin, streams the program's output to the context
   * and returns at the supervisor's trailer (decoded strictly, bounded while read). A
   * trailer over its bound or malformed is a RunnerTrailerError; the owner then removes
   * the pod. Honours `context.signal`.
   */
  async run(context: RunContext): Promise<RunOutcome> {
    if (this.#used) throw new Error('a sandbox pod runs one execution only');
    this.#used = true;
    const { request, signal } = context;
    const nonce = newRunnerNonce();
    // A user's image: its bootstrap reads cordon's runner first (nothing else has used the attach yet).
    const payload = this.#sendsRunner
      ? Buffer.concat([await runnerBundleFrame(), encodePayload(request, nonce)])
      : encodePayload(request, nonce);
    const outcome = await attachAndRun(
      this.#api,
      this.namespace,
      this.name,
      { payload, stdin: request.stdin, nonce, request },
      {
        stdout: (chunk) => context.stdout.write(chunk),
        stderr: (chunk) => context.stderr.write(chunk),
      },
      this.#apiTimeoutMs,
      signal,
    );
    switch (outcome.kind) {
      case 'result': {
        const { exitCode, signal: exitSignal, files, filesTruncated, warnings } = outcome.result;
        // A child killed by SIGKILL may be the memory limit at work: the kubelet reports it.
        const oomKilled = exitSignal === 'SIGKILL' && (await this.#terminated())?.reason === 'OOMKilled';
        return { exitCode, signal: exitSignal, oomKilled, files, filesTruncated, warnings };
      }
      case 'broken':
        throw new RunnerTrailerError(BACKEND_NAME, outcome.problem, { executionId: context.id, pod: this.name });
      case 'stopped':
        return stoppedOutcome();
      case 'closed': {
        if (signal.aborted) return stoppedOutcome();
        // The supervisor died without a result: the memory limit killed it, or the pod went away.
        const terminated = await this.#terminated();
        if (terminated?.reason === 'OOMKilled') return { exitCode: null, signal: 'SIGKILL', oomKilled: true };
        if (terminated?.exitCode === GATE_EXIT_CODE && terminated.message?.startsWith(GATE_MESSAGE_PREFIX)) {
          throw new IsolationRefusedError(
            BACKEND_NAME,
            'network',
            `is not enforced for pod ${this.namespace}/${this.name}: ${terminated.message}`,
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
          `the stream from pod ${this.namespace}/${this.name} ended without a result (${detail})`,
          { executionId: context.id, pod: this.name },
        );
      }
    }
  }

  #terminated(): Promise<V1ContainerStateTerminated | undefined> {
    return waitForTermination(this.#api, this.namespace, this.name, TERMINATION_STATUS_WAIT_MS);
  }

  /** Puts the execution id on a pool pod's labels; best effort, off the request path. */
  labelExecution(executionId: string): void {
    void this.#api
      .call(
        `patch pods in namespace ${this.namespace}`,
        (options) =>
          this.#api.core.patchNamespacedPod(
            {
              name: this.name,
              namespace: this.namespace,
              body: { metadata: { labels: { [LABELS.execution]: executionId } } },
            },
            options,
          ),
        { contentType: 'application/merge-patch+json', allow: [404, 409, 422] },
      )
      .catch(ignored('k8s.pod', () => `label pod ${this.namespace}/${this.name} with its execution`));
  }

  /**
   * Deletes the pod (tracked, so close() waits for it); never throws. The owner awaits
   * it on failure paths, so nothing of a failed run outlives execute().
   */
  remove(): Promise<void> {
    this.#removal ??= this.#tracker.remove(this);
    return this.#removal;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }
}
