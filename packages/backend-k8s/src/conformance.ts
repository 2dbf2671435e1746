import type { ConformanceAdapter, Executor } from '@cordon/core';
import { InvalidRequestError } from '@cordon/core';
import type { V1Node } from '@kubernetes/client-node';
import { K8sExecutor } from './k8s-executor.js';

/**
 * The conformance suite's view of this backend. Its canaries run on the machine
 * that runs the suite, which must be a node of the cluster (or reachable from the
 * pod network at `conformanceReachIpv4`). Control runs are the same execution with
 * `network: 'open'`: a pod in the unrestricted control namespace, same image and
 * runtime. Pods never share the host's loopback.
 */
export async function conformanceAdapter(executor: Executor, options: Record<string, unknown>): Promise<ConformanceAdapter> {
  if (!(executor instanceof K8sExecutor)) throw new InvalidRequestError('executor', executor.name, 'must be a K8sExecutor');
  await executor.ready();
  const reachIPv4 = typeof options.conformanceReachIpv4 === 'string' ? options.conformanceReachIpv4 : await nodeInternalIPv4(executor);
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
  return {
    executor: underTest,
    canaryNetwork: { bindIPv4: '0.0.0.0', reachIPv4, sharesHostLoopback: false, dnsPort: 53 },
    leftovers: async () => [...await executor.leftovers(), ...(underTest === executor ? [] : await underTest.leftovers())],
    notApplicable: {
      'NL1:node-interfaces': NL1_REASON,
      'NL1:python-ifaces': NL1_REASON,
      ...(isGvisor(executor.options.runtimeClassName) ? { 'NL1:python-change': NL1_GVISOR_REASON } : {}),
    },
  };
}

// A pod always has its eth0 on the pod network; what keeps it off the network is the
// NetworkPolicy, which every other network probe tests (and NL1:python-change still
// proves the interfaces cannot be changed).
const NL1_REASON = 'a pod always has eth0 on the pod network: isolation is the deny-all NetworkPolicy (tested by every network probe), not the absence of interfaces; changing an interface is still tested (NL1:python-change)';

const NL1_GVISOR_REASON = "gVisor's netstack does not implement SIOCSIFMTU (the probe gets ENOTTY, neither a change nor a permission error); the sandbox has no CAP_NET_ADMIN either way";

/** GKE Sandbox's RuntimeClass is `gvisor`; a self-managed one is usually named after its handler, `runsc`. */
function isGvisor(runtimeClassName: string | undefined): boolean {
  return runtimeClassName !== undefined && /gvisor|runsc/i.test(runtimeClassName);
}

/** The InternalIP of the first node (the test cluster is a single node: this machine). */
async function nodeInternalIPv4(executor: K8sExecutor): Promise<string> {
  const { api } = executor;
  const nodes = await api.call('list nodes', (options) => api.core.listNode({}, options));
  const address = nodes.items
    .flatMap((node: V1Node) => node.status?.addresses ?? [])
    .find((entry) => entry.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(entry.address));
  if (!address) throw new InvalidRequestError('options.conformanceReachIpv4', undefined, 'is needed: no node has an IPv4 InternalIP');
  return address.address;
}
