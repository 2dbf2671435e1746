import {
  booleanOption,
  debug,
  DEFAULT_RUNTIME_IMAGE,
  listOption,
  mapOption,
  parseBackendOptions,
  RUNTIME_IMAGE_UID,
} from '@cordon/core/backend';
import type { V1Toleration } from '@kubernetes/client-node';
import { z } from 'zod';

/** A pod toleration, as Kubernetes defines it (the fields cordon accepts). */
export type K8sToleration = z.output<typeof tolerationSchema>;

/**
 * Options of the k8s backend; each is also read from `--option key=value` and
 * `CORDON_K8S_<KEY>` (see README), strings coerced. `parseK8sOptions` validates them
 * into `ParsedK8sOptions`.
 */
export interface K8sOptions {
  /** Tenant namespace the sandbox pods run in, behind the deny-all NetworkPolicy. @default 'cordon-sandbox' */
  namespace?: string;
  /**
   * The namespace without the deny-all policy: requests with `network: 'open'` run there,
   * and so do the isolation check's canary and positive-control pods. Must differ from
   * `namespace`. @default 'cordon-control'
   */
  unrestrictedNamespace?: string;
  /** @deprecated since 0.2: use `unrestrictedNamespace` (the same meaning). Removed in the next release. */
  controlNamespace?: string;
  /** Create the namespaces when missing (needs `create` on namespaces). @default true */
  createNamespaces?: boolean;
  /** Verify, once per tenant, that a pod in the namespace misses a canary that a control pod reaches. @default true */
  verifyIsolation?: boolean;
  /** cordon's runtime image (runner protocol 3), or any image with node and/or python3 (see `imageKind`). @default `cordon-runtime:<version>` */
  image?: string;
  /**
   * `cordon`: the image holds cordon's runner (as the default image does). `own`: a
   * user's image with node and/or python3; its tools are probed once by a pod, and
   * cordon's runner is sent in over the attach at each start. `auto`: `cordon` for the
   * default image, else a probe pod tells (cordon's runner present or not).
   * @default 'auto'
   */
  imageKind?: 'auto' | 'cordon' | 'own';
  /** The backend does not pull unless configured to. @default 'Never' */
  imagePullPolicy?: 'Never' | 'IfNotPresent' | 'Always';
  /** Secret names in the tenant namespace; a string is split on commas. @default [] */
  imagePullSecrets?: readonly string[] | string;
  /** e.g. `gvisor` on GKE Sandbox. @default none (the cluster's default runtime) */
  runtimeClassName?: string;
  /** Node labels the pods must match; a string is `key=value,key2=value2`. @default {} */
  nodeSelector?: Readonly<Record<string, string>> | string;
  /** Pod tolerations; a string is a JSON array. @default [] */
  tolerations?: readonly K8sToleration[] | string;
  /**
   * IPv4 nameservers for the pods' /etc/resolv.conf; a string is split on commas. The
   * conformance adapter points it at its DNS canary so a leaking system lookup would show.
   * @default none: 127.0.0.1 behind the policy (no resolver), the cluster's resolver for `network: 'open'`
   */
  dns?: readonly string[] | string;
  /**
   * The uid sandbox programs run under (the pod's supervisor starts as root and
   * switches to it). `per-pod`: a non-root uid of its own for each pod, so limits.pids
   * is enforced per pod (RLIMIT_NPROC) and per-user kernel limits are not shared. A
   * number: that uid for every pod (and for cordon's other pods); then limits.pids
   * falls back to the kubelet's node-wide podPidsLimit. @default 'per-pod'
   */
  runAsUser?: 'per-pod' | number;
  /** Path of a kubeconfig file. @default `KUBECONFIG`, else `~/.kube/config`, else the in-cluster service account */
  kubeconfig?: string;
  /** Kubeconfig context. @default the kubeconfig's current context */
  context?: string;
  /** Pre-started pods kept ready per runner for requests with default limits; 0 disables the pool. @default 2 */
  poolSize?: number;
  /** A warm pod older than this is replaced (it also bounds its `activeDeadlineSeconds`). @default 600000 (10 min) */
  warmPodMaxAgeMs?: number;
  /** Limit for one API call; an unreachable API server fails after this. @default 15000 */
  apiTimeoutMs?: number;
  /** Scheduling plus container start; a pod not running by then is deleted and the run fails. @default 120000 */
  podStartTimeoutMs?: number;
  /** How long a new pod waits for the policy to cover it before it refuses to run anything. @default 30000 */
  networkGateTimeoutMs?: number;
  /** CPU request as a fraction (0 to 1) of the CPU limit, so small nodes can pack pods (memory request = limit). @default 0.1 */
  cpuRequestFraction?: number;
  /** How often leftovers of dead owners are looked for; 0 disables the periodic reaper. @default 300000 (5 min) */
  reapIntervalMs?: number;
  /** Executions running at once. @default 4 */
  maxConcurrency?: number;
}

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

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The schema behind `K8sOptions` (a type test keeps the two in step). */
export const k8sOptionsSchema = z
  .strictObject({
    namespace: namespaceName.default('cordon-sandbox'),
    unrestrictedNamespace: namespaceName.optional(),
    controlNamespace: namespaceName.optional(),
    createNamespaces: booleanOption(true),
    verifyIsolation: booleanOption(true),
    image: z.string().min(1).default(DEFAULT_IMAGE),
    imageKind: z.enum(['auto', 'cordon', 'own']).default('auto'),
    imagePullPolicy: z.enum(['Never', 'IfNotPresent', 'Always']).default('Never'),
    imagePullSecrets: listOption(z.string().min(1)).default([]),
    runtimeClassName: z.string().min(1).optional(),
    nodeSelector: mapOption(z.string()).default({}),
    tolerations: tolerations.default([]),
    dns: listOption(z.string().min(1)).pipe(z.array(z.ipv4())).optional(),
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
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    poolSize: z.coerce.number().int().min(0).max(64).default(2),
    warmPodMaxAgeMs: positiveInt(10 * 60_000),
    apiTimeoutMs: positiveInt(15_000),
    podStartTimeoutMs: positiveInt(120_000),
    networkGateTimeoutMs: positiveInt(30_000),
    cpuRequestFraction: z.coerce.number().positive().max(1).default(0.1),
    reapIntervalMs: z.coerce
      .number()
      .int()
      .min(0)
      .default(5 * 60_000),
    maxConcurrency: z.coerce.number().int().positive().optional(),
  })
  .refine(
    (options) =>
      options.unrestrictedNamespace === undefined ||
      options.controlNamespace === undefined ||
      options.unrestrictedNamespace === options.controlNamespace,
    {
      message: 'is the deprecated name of unrestrictedNamespace and disagrees with it; give unrestrictedNamespace only',
      path: ['controlNamespace'],
    },
  )
  // The deprecated alias is folded in, so the rest of the backend reads one field.
  .transform(({ controlNamespace, unrestrictedNamespace, ...rest }) => ({
    ...rest,
    unrestrictedNamespace: unrestrictedNamespace ?? controlNamespace ?? 'cordon-control',
  }))
  .refine((options) => options.namespace !== options.unrestrictedNamespace, {
    message: 'must differ from namespace (the unrestricted namespace has no deny-all policy)',
    path: ['unrestrictedNamespace'],
  });

/**
 * The k8s backend's options after validation, defaults applied (`controlNamespace` folded
 * into `unrestrictedNamespace`). Until 0.2 this type was named `K8sOptions`.
 */
export type ParsedK8sOptions = z.output<typeof k8sOptionsSchema>;

/** @throws InvalidRequestError naming `options.<key>`. */
export function parseK8sOptions(options: K8sOptions | Record<string, unknown>): ParsedK8sOptions {
  return parseBackendOptions(k8sOptionsSchema, options as Record<string, unknown>);
}

/** @deprecated since 0.2: use `K8sOptions` (the options as written) or `ParsedK8sOptions`. Removed in the next release. */
export type K8sOptionsInput = z.input<typeof k8sOptionsSchema>;

export function toTolerations(options: ParsedK8sOptions): V1Toleration[] {
  return options.tolerations.map((toleration) => ({ ...toleration }));
}
