import { randomInt } from 'node:crypto';
import { InvalidRequestError, type ExecutionLimits } from '@cordon/core';
import { LABELS, MANAGED_BY, OWNER_ID } from '@cordon/core/backend';
import type { V1Namespace, V1NetworkPolicy, V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import {
  DEFAULT_RUN_AS_USER,
  PER_POD_UID_COUNT,
  PER_POD_UID_MIN,
  toTolerations,
  type ParsedK8sOptions,
} from './options.js';
import { RUNNER_DIR, RUNTIME_WORKDIR } from '@cordon/core/backend';
import { isGvisorRuntimeClass } from './runtime-class.js';
import { checkInterpreter, type Interpreter } from './interpreter.js';

export const BACKEND_NAME = 'k8s';
export const SANDBOX_CONTAINER = 'sandbox';
export const DENY_ALL_POLICY_NAME = 'cordon-deny-all';

/** What a cordon pod is for; reaping and leak checks select on it. */
export const ROLE_LABEL = 'cordon.dev/role';
export type PodRole = 'sandbox' | 'canary' | 'control' | 'isolation-probe' | 'image-probe';
/** One executor instance: two executors in one process share the owner, not their pods. */
export const EXECUTOR_LABEL = 'cordon.dev/executor';
/** `warm` for pool pods, `cold` for pods made for one request. */
export const POOL_LABEL = 'cordon.dev/pool';
/** When the pod is past its useful life (ISO time), for the reaper of a later owner. */
export const EXPIRES_ANNOTATION = 'cordon.dev/expires-at';
/** The uid a sandbox pod's program runs under (the pod itself starts as root). */
export const PROGRAM_UID_ANNOTATION = 'cordon.dev/program-uid';

/** Added to `activeDeadlineSeconds` so the kubelet's own deadline never beats ours. */
export const DEADLINE_GRACE_SECONDS = 30;

export function cordonLabels(extra: Record<string, string> = {}): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.backend]: BACKEND_NAME, [LABELS.owner]: OWNER_ID, ...extra };
}

/** Selects everything cordon's k8s backend made, or (with `owner`) one owner's, or one executor's. */
export function cordonSelector(owner?: string, executor?: string): string {
  const parts = [`${LABELS.managedBy}=${MANAGED_BY}`, `${LABELS.backend}=${BACKEND_NAME}`];
  if (owner !== undefined) parts.push(`${LABELS.owner}=${owner}`);
  if (executor !== undefined) parts.push(`${EXECUTOR_LABEL}=${executor}`);
  return parts.join(',');
}

/**
 * The Pod Security level cordon's pods need: `baseline`. Sandbox pods start their
 * supervisor as root with CAP_SETUID, CAP_SETGID and CAP_KILL (all in baseline's
 * allowed list), which `restricted` refuses (runAsNonRoot, no added capabilities);
 * the program itself runs as the pod's own non-root uid without capabilities.
 */
export const POD_SECURITY_LEVEL = 'baseline';

export function namespaceManifest(name: string, role: 'tenant' | 'control'): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      // No owner label: a namespace is shared by every owner and outlives them.
      labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.backend]: BACKEND_NAME,
        'cordon.dev/namespace-role': role,
        // Enforced by the API server's PodSecurity admission: no pod beyond baseline (privileged,
        // host namespaces, hostPath...) can start in cordon's namespaces, whoever makes it.
        'pod-security.kubernetes.io/enforce': POD_SECURITY_LEVEL,
        'pod-security.kubernetes.io/enforce-version': 'latest',
      },
    },
  };
}

/**
 * Deny all ingress and all egress for every pod in the namespace, DNS included: no
 * rule means nothing is allowed, and open DNS would be an exfiltration channel.
 */
export function denyAllPolicyManifest(namespace: string): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: DENY_ALL_POLICY_NAME,
      namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.backend]: BACKEND_NAME },
    },
    spec: {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [],
    },
  };
}

/**
 * Why a policy found in the tenant namespace does not keep pods off the network, or
 * undefined when it is ours as created. Policies are additive, so any other policy
 * with an allow rule would open a hole next to ours.
 */
export function policyProblem(policy: V1NetworkPolicy): string | undefined {
  const name = policy.metadata?.name ?? '(unnamed)';
  const spec = policy.spec;
  if (name === DENY_ALL_POLICY_NAME) {
    if (!spec) return `${name} has no spec`;
    const selector = spec.podSelector ?? {};
    const selectsAll =
      (selector.matchLabels === undefined || Object.keys(selector.matchLabels).length === 0) &&
      (selector.matchExpressions === undefined || selector.matchExpressions.length === 0);
    if (!selectsAll) return `${name} no longer selects every pod`;
    const types = new Set(spec.policyTypes ?? []);
    if (!types.has('Ingress') || !types.has('Egress')) return `${name} does not cover both Ingress and Egress`;
    if ((spec.ingress?.length ?? 0) > 0) return `${name} has ingress allow rules`;
    if ((spec.egress?.length ?? 0) > 0) return `${name} has egress allow rules`;
    return undefined;
  }
  if ((spec?.egress?.length ?? 0) > 0) return `another NetworkPolicy "${name}" allows egress in the namespace`;
  if ((spec?.ingress?.length ?? 0) > 0) return `another NetworkPolicy "${name}" allows ingress in the namespace`;
  return undefined;
}

/**
 * `non-root`: every process of the pod runs as `uid` (canary, control and isolation
 * probe pods). `supervisor`: sandbox pods; the container starts as root holding only
 * CAP_SETUID, CAP_SETGID and CAP_KILL, and the image's supervisor runs the program as
 * `programUid` (see the runner protocol for why the result is then authentic).
 */
export type PodRunAs = { kind: 'non-root'; uid: number } | { kind: 'supervisor'; programUid: number };

/** The supervisor's only privileges: switch to the program's uid, and kill what is left of it. */
export const SUPERVISOR_CAPABILITIES = ['SETUID', 'SETGID', 'KILL'];

export interface HardenedPodSpec {
  name: string;
  namespace: string;
  role: PodRole;
  options: ParsedK8sOptions;
  labels?: Record<string, string>;
  command: string[];
  /** Keep stdin open for one attach (the runner reads its request there). */
  stdin: boolean;
  limits: Pick<ExecutionLimits, 'memoryBytes' | 'cpus' | 'diskBytes'>;
  /** Who the pod's processes run as; default: non-root, the option's fixed uid or the image's. */
  runAs?: PodRunAs;
  activeDeadlineSeconds: number;
  /** True for pods behind the deny-all policy: no resolver configured at all. */
  noNetwork: boolean;
  /**
   * A user's own image: a memory volume at RUNNER_DIR for cordon's runner, which the
   * bootstrap writes there from the attach (and makes 0755 first), and an empty
   * NODE_OPTIONS so the image's cannot load code into the root supervisor.
   */
  runnerVolume?: boolean;
}

/**
 * Every pod cordon makes: read-only root, no token, no host anything, no privilege
 * escalation; non-root without capabilities, or (sandbox pods) a root supervisor with
 * three capabilities that runs the program as the pod's own non-root uid.
 */
export function hardenedPodManifest(spec: HardenedPodSpec): V1Pod {
  const { options } = spec;
  const runAs = spec.runAs ?? {
    kind: 'non-root',
    uid: options.runAsUser === 'per-pod' ? DEFAULT_RUN_AS_USER : options.runAsUser,
  };
  const supervised = runAs.kind === 'supervisor';
  const uid = supervised ? 0 : runAs.uid;
  const expiresAt = new Date(Date.now() + spec.activeDeadlineSeconds * 1000).toISOString();
  // Every devpts instance on a kernel shares kernel.pty.max: an empty read-only volume
  // over /dev/pts (containerd then drops its own devpts mount, and /dev/ptmx points into
  // it) keeps one pod from taking every pseudo-terminal of the node. gVisor's are its own.
  const hidePtys = supervised && !isGvisorRuntimeClass(options.runtimeClassName);
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: cordonLabels({ [ROLE_LABEL]: spec.role, ...spec.labels }),
      annotations: {
        [EXPIRES_ANNOTATION]: expiresAt,
        ...(supervised ? { [PROGRAM_UID_ANNOTATION]: String(runAs.programUid) } : {}),
      },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      // Not 0: a zero-grace delete removes the pod object before its containers are
      // dead, and a policy plugin that matches pods by IP would stop guarding them.
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      shareProcessNamespace: false,
      securityContext: {
        runAsNonRoot: !supervised,
        runAsUser: uid,
        runAsGroup: uid,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: SANDBOX_CONTAINER,
          image: options.image,
          imagePullPolicy: options.imagePullPolicy,
          command: spec.command,
          workingDir: supervised ? '/' : RUNTIME_WORKDIR,
          env: [
            { name: 'HOME', value: RUNTIME_WORKDIR },
            { name: 'PATH', value: '/usr/local/bin:/usr/bin:/bin' },
            ...(spec.runnerVolume ? [{ name: 'NODE_OPTIONS', value: '' }] : []),
          ],
          stdin: spec.stdin,
          stdinOnce: spec.stdin,
          tty: false,
          securityContext: {
            runAsNonRoot: !supervised,
            runAsUser: uid,
            runAsGroup: uid,
            privileged: false,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: supervised ? { drop: ['ALL'], add: [...SUPERVISOR_CAPABILITIES] } : { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
          resources: resourcesFor(spec.limits, options.cpuRequestFraction),
          volumeMounts: [
            { name: 'tmp', mountPath: '/tmp' },
            { name: 'work', mountPath: RUNTIME_WORKDIR },
            ...(hidePtys ? [{ name: 'no-ptys', mountPath: '/dev/pts', readOnly: true }] : []),
            ...(spec.runnerVolume ? [{ name: 'runner', mountPath: RUNNER_DIR }] : []),
          ],
        },
      ],
      // Memory-backed and size-limited: a hard cap (tmpfs size), nothing left on the node's disk.
      volumes: [
        { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: String(spec.limits.diskBytes) } },
        { name: 'work', emptyDir: { medium: 'Memory', sizeLimit: String(spec.limits.diskBytes) } },
        ...(hidePtys ? [{ name: 'no-ptys', emptyDir: { medium: 'Memory', sizeLimit: '4Ki' } }] : []),
        ...(spec.runnerVolume ? [{ name: 'runner', emptyDir: { medium: 'Memory', sizeLimit: '4Mi' } }] : []),
      ],
    },
  };
  const podSpec = pod.spec!;
  if (options.dns !== undefined && options.dns.length > 0) {
    podSpec.dnsPolicy = 'None';
    podSpec.dnsConfig = { nameservers: [...options.dns] };
  } else if (spec.noNetwork) {
    // Even the cluster resolver is out of reach; say so in resolv.conf instead of timing out.
    podSpec.dnsPolicy = 'None';
    podSpec.dnsConfig = { nameservers: ['127.0.0.1'] };
  }
  if (options.runtimeClassName !== undefined) podSpec.runtimeClassName = options.runtimeClassName;
  if (Object.keys(options.nodeSelector).length > 0) podSpec.nodeSelector = { ...options.nodeSelector };
  if (options.tolerations.length > 0) podSpec.tolerations = toTolerations(options);
  if (options.imagePullSecrets.length > 0)
    podSpec.imagePullSecrets = options.imagePullSecrets.map((name) => ({ name }));
  return pod;
}

/** The uid for a new pod: its own when `runAsUser` is `per-pod`, else the fixed one. */
export function podUid(options: ParsedK8sOptions): number {
  if (options.runAsUser !== 'per-pod') return options.runAsUser;
  return PER_POD_UID_MIN + randomInt(PER_POD_UID_COUNT);
}

/** How long the container outlives its runner, so the attach stream drains before the container exits. */
export const DRAIN_HOLD_SECONDS = 2;
/** Open files per process in every cordon pod (pods otherwise inherit the node's, often 1M). */
export const POD_NOFILE = 1024;

export interface PodCommandOptions {
  /** What runs once the pod is ready: the supervisor, or a check's own program. */
  command: readonly string[];
  /** Source of the network gate (see network-gate.ts), run first in pods behind the policy. */
  gateSource?: string | undefined;
  /** What runs gateSource (see gateCommand); default node. */
  gateInterpreter?: Interpreter | undefined;
  /** The image's shell, PID 1 of the container; default /bin/bash. The script is POSIX sh (dash, busybox ash). */
  shell?: string | undefined;
}

/** How the shell runs the gate's source (its $0) with each interpreter; stdin is the workload's. */
export const GATE_INVOCATIONS: Readonly<Record<Interpreter, string>> = {
  node: 'node -e "$0" </dev/null',
  python: 'python3 -I -S -c "$0" </dev/null',
};
export const DEFAULT_POD_SHELL = '/bin/bash';

/**
 * The pod's command: a shell that caps open files, optionally runs the network gate,
 * then execs the workload (so the workload is the shell's only child).
 *
 * The shell is the container's PID 1, so it can end the whole run at once:
 * - when the workload exits, it SIGKILLs every other process in the pod (`kill -1`
 *   cannot reach PID 1 itself), so a program's orphans and detached grandchildren die
 *   with the run, not whenever the kubelet gets to the pod's deletion;
 * - on SIGTERM (the pod is being deleted: a timeout, an abort) it does the same at
 *   once instead of waiting out the grace period. The workload runs in the background
 *   (`wait` is interruptible, a foreground child is not) with its stdin given explicitly
 *   (a background job gets /dev/null otherwise). bash keeps an explicit `0<&0`; POSIX
 *   shells (dash, busybox ash) apply it after the /dev/null, so for them the shell's
 *   stdin is kept on fd 3 first and given back to the job (and fd 3 closed in both).
 * Afterwards the container stays up for DRAIN_HOLD_SECONDS (or until SIGTERM): the
 * kubelet closes an attach stream when the container exits and was seen to drop the
 * runner's last bytes (its trailer) about once in a hundred runs. The backend returns
 * on the trailer and deletes the pod, so the hold costs a request nothing.
 * RLIMIT_NPROC is not set here: as root it would limit the supervisor by a count it
 * shares with every root process of the node; the supervisor sets it on the program.
 */
export function podCommand(options: PodCommandOptions): string[] {
  const gateInterpreter = checkInterpreter('gateInterpreter', options.gateInterpreter ?? 'node');
  const shell = options.shell ?? DEFAULT_POD_SHELL;
  // A path, not a name: the container's PATH is not looked up for a pod's command[0] by every runtime.
  if (typeof shell !== 'string' || !/^\/[^\s]*$/.test(shell))
    throw new InvalidRequestError('shell', shell, 'must be an absolute path without whitespace, e.g. /bin/sh');
  const steps = [
    `ulimit -n ${POD_NOFILE}`,
    ...(options.gateSource !== undefined ? [GATE_INVOCATIONS[gateInterpreter]] : []),
    'exec "$@"',
  ];
  const killRest = 'kill -KILL -1 2>/dev/null';
  const job = `{ ${steps.join(' && ')}; }`;
  const background = shell.endsWith('/bash') ? `${job} 0<&0 &` : `exec 3<&0; ${job} 0<&3 3<&- & exec 3<&-;`;
  const run = `trap '${killRest}; exit 143' TERM; ${background} wait $!`;
  const hold = `code=$?; ${killRest}; trap 'exit $code' TERM; sleep ${DRAIN_HOLD_SECONDS} & wait $!; exit $code`;
  // sh -c SCRIPT $0 $@: $0 carries the gate's source, "$@" the workload.
  return [shell, '-c', `${run}; ${hold}`, options.gateSource ?? 'cordon', ...options.command];
}

export function resourcesFor(
  limits: Pick<ExecutionLimits, 'memoryBytes' | 'cpus'>,
  cpuRequestFraction: number,
): V1ResourceRequirements {
  const cpuMillis = Math.max(1, Math.round(limits.cpus * 1000));
  const requestMillis = Math.max(1, Math.round(cpuMillis * cpuRequestFraction));
  return {
    limits: { cpu: `${cpuMillis}m`, memory: String(limits.memoryBytes) },
    requests: { cpu: `${requestMillis}m`, memory: String(limits.memoryBytes) },
  };
}

/** Seconds for `activeDeadlineSeconds`: the run's own budget plus pod start plus grace. */
export function deadlineSeconds(...budgetsMs: number[]): number {
  const total = budgetsMs.reduce((sum, ms) => sum + ms, 0);
  return Math.ceil(total / 1000) + DEADLINE_GRACE_SECONDS;
}
