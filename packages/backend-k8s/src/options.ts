import {
  debug,
  DEFAULT_RUNTIME_IMAGE,
  parseBackendOptions,
  parseBooleanOption,
  RUNTIME_IMAGE_UID,
} from '@cordon/core/backend';
import type { V1Toleration } from '@kubernetes/client-node';
import { z } from 'zod';

/** The cordon runtime image, as the docker backend builds it and the test cluster imports it. */
export const DEFAULT_IMAGE = DEFAULT_RUNTIME_IMAGE;
/** The runtime image's own non-root user: the uid of cordon's non-sandbox pods (canary, control, probe). */
export const DEFAULT_RUN_AS_USER = RUNTIME_IMAGE_UID;
/**
 * `runAsUser: 'per-pod'` (the default) draws each sandbox pod's program uid from this
 * range. The kernel counts RLIMIT_NPROC and its per-user limits (inotify instances,
 * message-queue bytes, pipe pages, pending signals) per uid across the node, so a uid
 * of its own is what makes them per pod.
 */
export const PER_POD_UID_MIN = 200_000;
export const PER_POD_UID_COUNT = 1_000_000;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const namespaceName = z.string().max(63).regex(DNS_LABEL, 'must be a DNS-1123 label (lowercase letters, digits, "-")');

/** `a=b,c=d` (CLI/env) or an object. */
const stringMap = z.preprocess(
  (value) => {
    if (typeof value !== 'string') return value;
    if (value.trim() === '') return {};
    return Object.fromEntries(
      value.split(',').map((pair) => {
        const at = pair.indexOf('=');
        return at < 0 ? [pair.trim(), ''] : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      }),
    );
  },
  z.record(z.string().min(1), z.string()),
);

/** `a,b` (CLI/env) or an array. */
const stringList = z.preprocess(
  (value) => {
    if (typeof value !== 'string') return value;
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  },
  z.array(z.string().min(1)),
);

const tolerationSchema = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});

/** A JSON array (CLI/env) or an array of tolerations. */
const tolerations = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    // No error text: JSON.parse quotes its input, a configured value. Zod reports the shape.
    debug('k8s.options', 'tolerations are not JSON, left to validation');
    return value;
  }
}, z.array(tolerationSchema));

const bool = (fallback: boolean) => z.preprocess(parseBooleanOption, z.boolean()).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const k8sOptionsSchema = z
  .strictObject({
    /** Tenant namespace the sandbox pods run in, behind the deny-all NetworkPolicy. */
    namespace: namespaceName.default('cordon-sandbox'),
    /**
     * Unrestricted namespace for the isolation check's canary and control pods, and for
     * requests with `network: 'open'`. Must differ from `namespace`.
     */
    controlNamespace: namespaceName.default('cordon-control'),
    /** Create the namespaces when missing (needs `create` on namespaces). */
    createNamespaces: bool(true),
    /** Verify, once per tenant, that a pod in the namespace misses a canary that a control pod reaches. */
    verifyIsolation: bool(true),
    image: z.string().min(1).default(DEFAULT_IMAGE),
    /** `Never` by default: the backend does not pull unless configured to. */
    imagePullPolicy: z.enum(['Never', 'IfNotPresent', 'Always']).default('Never'),
    imagePullSecrets: stringList.default([]),
    /** e.g. `gvisor` on GKE Sandbox. */
    runtimeClassName: z.string().min(1).optional(),
    nodeSelector: stringMap.default({}),
    tolerations: tolerations.default([]),
    /**
     * Nameservers for the sandbox pods' /etc/resolv.conf (default: none reachable, 127.0.0.1
     * behind the policy; the cluster's resolver for `network: 'open'`). The conformance
     * adapter points it at its DNS canary so a leaking system lookup would show.
     */
    dns: stringList.pipe(z.array(z.ipv4())).optional(),
    /**
     * The uid sandbox programs run under (the pod's supervisor starts as root and
     * switches to it). `per-pod`: a non-root uid of its own for each pod, so limits.pids
     * is enforced per pod (RLIMIT_NPROC) and per-user kernel limits are not shared. A
     * number: that uid for every pod (and for cordon's other pods); then limits.pids
     * falls back to the kubelet's node-wide podPidsLimit.
     */
    runAsUser: z
      .union([
        z.literal('per-pod'),
        z.coerce
          .number()
          .int()
          .min(1, 'must be a non-root uid')
          .max(2 ** 31 - 1),
      ])
      .default('per-pod'),
    /** Path of a kubeconfig file; default: `KUBECONFIG`, `~/.kube/config`, or the in-cluster service account. */
    kubeconfig: z.string().min(1).optional(),
    /** Kubeconfig context; default: its current context. */
    context: z.string().min(1).optional(),
    /** Pre-started pods kept ready for requests with default limits; 0 disables the pool. */
    poolSize: z.coerce.number().int().min(0).max(64).default(2),
    /** A warm pod older than this is replaced (it also bounds its `activeDeadlineSeconds`). */
    warmPodMaxAgeMs: positiveInt(10 * 60_000),
    /** Limit for one API call; an unreachable API server fails after this. */
    apiTimeoutMs: positiveInt(15_000),
    /** Scheduling plus container start; a pod not running by then is deleted and the run fails. */
    podStartTimeoutMs: positiveInt(120_000),
    /** How long a new pod waits for the policy to cover it before it refuses to run anything. */
    networkGateTimeoutMs: positiveInt(30_000),
    /** CPU request as a fraction of the CPU limit, so small nodes can pack pods (memory request = limit). */
    cpuRequestFraction: z.coerce.number().positive().max(1).default(0.1),
    /** How often leftovers of dead sessions are looked for; 0 disables the periodic reaper. */
    reapIntervalMs: z.coerce
      .number()
      .int()
      .min(0)
      .default(5 * 60_000),
    maxConcurrency: z.coerce.number().int().positive().optional(),
  })
  .refine((options) => options.namespace !== options.controlNamespace, {
    message: 'controlNamespace must differ from namespace (the control namespace has no deny-all policy)',
    path: ['controlNamespace'],
  });

export type K8sOptions = z.output<typeof k8sOptionsSchema>;
export type K8sOptionsInput = z.input<typeof k8sOptionsSchema>;

export function parseK8sOptions(options: Record<string, unknown>): K8sOptions {
  return parseBackendOptions(k8sOptionsSchema, options);
}

export function toTolerations(options: K8sOptions): V1Toleration[] {
  return options.tolerations.map((toleration) => ({ ...toleration }));
}
