import type { ExecutionRequest, Executor, Language } from '@cordon/core';
import type { ConformanceAdapter } from '@cordon/core/backend';
import { InvalidRequestError } from '@cordon/core';
import type { V1Node } from '@kubernetes/client-node';
import { K8sExecutor } from './k8s-executor.js';
import { DEFAULT_RUN_AS_USER } from './options.js';
import { isGvisorRuntimeClass } from './runtime-class.js';

/**
 * The conformance suite's view of this backend. Its canaries run on the machine
 * that runs the suite, which must be a node of the cluster (or reachable from the
 * pod network at `conformanceReachIpv4`). Control runs are the same execution with
 * `network: 'open'`: a pod in the unrestricted namespace, same image and
 * runtime. Pods never share the host's loopback.
 */
export async function conformanceAdapter(
  executor: Executor,
  options: Record<string, unknown>,
): Promise<ConformanceAdapter> {
  if (!(executor instanceof K8sExecutor))
    throw new InvalidRequestError('executor', executor.name, 'must be a K8sExecutor');
  await executor.ready();
  const reachIPv4 =
    typeof options.conformanceReachIpv4 === 'string' ? options.conformanceReachIpv4 : await nodeInternalIPv4(executor);
  // Probe D2 needs the pods' system resolver to be the DNS canary, so a leaking
  // getaddrinfo would show in its log: probes (and their open-network controls) run
  // on a sibling executor that differs only in resolv.conf, closed with the given one.
  let underTest = executor;
  const dns = executor.options.dns;
  if (!(dns?.length === 1 && dns[0] === reachIPv4)) {
    underTest = K8sExecutor.create({ ...executor.createOptions, dns: [reachIPv4] });
    executor.closeWith(underTest);
    await underTest.ready();
  }
  // The shared-resources probes' positive control: every program under one fixed uid.
  const sharedUserControl = K8sExecutor.create({
    ...executor.createOptions,
    dns: [reachIPv4],
    runAsUser: DEFAULT_RUN_AS_USER,
    poolSize: 0,
    verifyIsolation: false,
  });
  executor.closeWith(sharedUserControl);
  const gvisor = isGvisorRuntimeClass(executor.options.runtimeClassName);
  return {
    executor: underTest,
    canaryNetwork: { bindIPv4: '0.0.0.0', reachIPv4, sharesHostLoopback: false, dnsPort: 53 },
    sharedUserControl,
    leftovers: async () => [
      ...(await executor.leftovers()),
      ...(underTest === executor ? [] : await underTest.leftovers()),
      ...(await sharedUserControl.leftovers()),
    ],
    notApplicable: {
      'NL1:node-interfaces': NL1_REASON,
      'NL1:python-ifaces': NL1_REASON,
      ...(gvisor ? { 'NL1:python-change': NL1_GVISOR_REASON } : HOST_KERNEL_IDENTIFIERS),
      ...(await cgroupIdentifiers(underTest)),
    },
  };
}

/**
 * What a pod on the host's kernel (runc) cannot hide, and why. The pod API has no
 * masked paths (only procMount, which can unmask, not mask), runc refuses mounts over
 * /proc/sys, and a pod gets neither CAP_SYS_ADMIN nor a user namespace to remount
 * anything. A gVisor RuntimeClass has its own boot id and mount table.
 */
const HOST_KERNEL_IDENTIFIERS: Readonly<Record<string, string>> = {
  'host-identifiers:boot-id':
    "a runc pod reads the node's /proc/sys/kernel/random/boot_id: the pod API cannot mask a path (procMount only unmasks), runc refuses a volume over /proc/sys, and the pod has no CAP_SYS_ADMIN to mount over it; a gVisor RuntimeClass has its own",
  'host-identifiers:mount-paths':
    "a runc pod's /proc/self/mountinfo is the node kernel's view: the containerd snapshot directories of the overlay root, and the kubelet's pod directories (/var/lib/kubelet/pods/<pod uid>/… for /etc/hosts, the termination log and every volume) are printed by the kernel and no pod setting can hide them; a gVisor RuntimeClass has its own",
};

/**
 * On cgroup v2 nodes containerd gives every container its own cgroup namespace; on
 * v1 it creates none (runc and runsc alike: gVisor shows the container's cgroup path
 * too) and the pod API has no field to ask for one. Asked of a pod, not assumed.
 */
async function cgroupIdentifiers(executor: K8sExecutor): Promise<Record<string, string>> {
  const probe = await executor.execute(cgroupQuestion(executor.capabilities().languages));
  if (probe.stdout.includes('unified')) return {};
  return {
    'host-identifiers:cgroup-ids': `the node runs cgroup v1 (/sys/fs/cgroup in a pod: ${probe.stdout.trim().split('\n')[0] || 'unknown'}), where containerd creates no cgroup namespace for a container and the pod API has no field for one, so /proc/self/cgroup shows the container id in its cgroup paths; on cgroup v2 nodes (GKE) the namespace is there and the probe applies`,
  };
}

/**
 * The same question in a language the image has (a user's image may have node or
 * python3 and no bash): is /sys/fs/cgroup the unified hierarchy (its root holds
 * cgroup.controllers)? Prints the filesystem type's name, then `unified` if it is.
 */
export function cgroupQuestion(languages: readonly Language[]): ExecutionRequest {
  if (languages.includes('bash'))
    return {
      language: 'bash',
      code: 'stat -fc %T /sys/fs/cgroup; if test -e /sys/fs/cgroup/cgroup.controllers; then echo unified; fi',
    };
  if (languages.includes('node'))
    return {
      language: 'node',
      code: [
        "const fs = require('node:fs');",
        "const names = { 0x63677270: 'cgroup2fs', 0x01021994: 'tmpfs', 0x27e0eb: 'cgroupfs' };",
        "const type = fs.statfsSync('/sys/fs/cgroup').type;",
        'console.log(names[type] ?? `0x${type.toString(16)}`);',
        "if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) console.log('unified');",
      ].join('\n'),
    };
  return {
    language: 'python',
    code: [
      'import os',
      "print('cgroup2fs' if os.path.exists('/sys/fs/cgroup/cgroup.controllers') else 'not cgroup2fs')",
      "if os.path.exists('/sys/fs/cgroup/cgroup.controllers'): print('unified')",
    ].join('\n'),
  };
}

// A pod always has its eth0 on the pod network; what keeps it off the network is the
// NetworkPolicy, which every other network probe tests (and NL1:python-change still
// proves the interfaces cannot be changed).
const NL1_REASON =
  'a pod always has eth0 on the pod network: isolation is the deny-all NetworkPolicy (tested by every network probe), not the absence of interfaces; changing an interface is still tested (NL1:python-change)';

const NL1_GVISOR_REASON =
  "gVisor's netstack does not implement SIOCSIFMTU (the probe gets ENOTTY, neither a change nor a permission error); the sandbox has no CAP_NET_ADMIN either way";

/** The InternalIP of the first node (the test cluster is a single node: this machine). */
async function nodeInternalIPv4(executor: K8sExecutor): Promise<string> {
  const { api } = executor;
  const nodes = await api.call('list nodes', (options) => api.core.listNode({}, options));
  const address = nodes.items
    .flatMap((node: V1Node) => node.status?.addresses ?? [])
    .find((entry) => entry.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(entry.address));
  if (!address)
    throw new InvalidRequestError(
      'options.conformanceReachIpv4',
      undefined,
      'is needed: no node has an IPv4 InternalIP',
    );
  return address.address;
}
