import { DEFAULT_LIMITS, type ExecutionLimits, type NormalizedRequest } from '@cordon/core';
import { runnerKindFor, WarmPool, type RunnerKind, type WarmMember } from '@cordon/core/backend';
import { DEADLINE_GRACE_SECONDS } from './manifests.js';

/** Limits every warm pod is made with; a request with other limits gets a cold pod. */
export const WARM_POD_LIMITS: ExecutionLimits = { ...DEFAULT_LIMITS };

/** What the pool's checks read of a warm pod. */
export interface WarmPodFacts extends WarmMember {
  /** `performance.now()` when the pod was created. */
  readonly createdAt: number;
  readonly activeDeadlineSeconds: number;
}

/** Whether `request` can use a warm pod at all: network none and the pool's limits. */
export function fitsWarmPod(request: NormalizedRequest): boolean {
  return (
    request.network.mode === 'none' &&
    request.limits.memoryBytes === WARM_POD_LIMITS.memoryBytes &&
    request.limits.cpus === WARM_POD_LIMITS.cpus &&
    request.limits.diskBytes === WARM_POD_LIMITS.diskBytes &&
    request.limits.pids === WARM_POD_LIMITS.pids
  );
}

/** Whether the pod's `activeDeadlineSeconds` still covers its age plus the request's timeout (with half the grace). */
export function warmPodCovers(pod: WarmPodFacts, request: NormalizedRequest): boolean {
  const ageMs = performance.now() - pod.createdAt;
  return (ageMs + request.timeoutMs) / 1000 + DEADLINE_GRACE_SECONDS / 2 < pod.activeDeadlineSeconds;
}

export interface WarmPodPoolParams<Pod extends WarmPodFacts> {
  /** Ready pods kept per runner kind. */
  size: number;
  /** Idle pods older than this are deleted and replaced. */
  maxAgeMs: number;
  /** Creates a pod and resolves once its runner is up (throws on failure, pod removed). */
  start(kind: RunnerKind): Promise<Pod>;
  /** Removes a pod; never throws. */
  remove(pod: Pod): Promise<void>;
  /** The runner kinds the image can boot. @default both */
  kinds?: readonly RunnerKind[];
  /** Which kind serves a language. @default runnerKindFor (cordon's image) */
  kindFor?: (language: NormalizedRequest['language']) => RunnerKind;
}

/**
 * Pre-started single-use pods per runner kind (node also serves bash), the runner booted and
 * waiting on stdin, so an execution does not wait for scheduling and container start. A
 * request whose limits or network differ from the pool's, or whose timeout the pod's
 * `activeDeadlineSeconds` would not cover, gets a cold pod. Refills back off 2 s to 60 s.
 */
export function warmPodPool<Pod extends WarmPodFacts>(params: WarmPodPoolParams<Pod>): WarmPool<Pod, RunnerKind> {
  return new WarmPool<Pod, RunnerKind>({
    area: 'k8s.pool',
    size: params.size,
    keys: params.kinds ?? ['node', 'python'],
    keyFor: (request) => {
      if (!fitsWarmPod(request)) return undefined;
      const kind = (params.kindFor ?? runnerKindFor)(request.language);
      return (params.kinds ?? ['node', 'python']).includes(kind) ? kind : undefined;
    },
    // A timeout the pod's activeDeadlineSeconds would not cover: the pod is dropped, not used.
    usableFor: warmPodCovers,
    maxAgeMs: params.maxAgeMs,
    backoff: { initialMs: 2000, maxMs: 60_000 },
    start: (kind) => params.start(kind),
    discard: (pod) => params.remove(pod),
  });
}
