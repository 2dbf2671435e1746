import { networkInterfaces } from 'node:os';
import { InvalidRequestError, type ExecutionRequest, type ExecutionResult, type Executor } from '@cordon/core';
import { OWNER_ID, LABELS, type ConformanceAdapter } from '@cordon/core/backend';
import { DockerApi } from './docker-api.js';
import { DockerBackendExecutor } from './docker-backend-executor.js';
import { createDualStackNetwork } from './dual-stack-network.js';
import { listCordonContainers } from './reaper.js';
import { DOCKER_LABELS } from './container-spec.js';
import { EGRESS_ROLE, EGRESS_ROLE_LABEL } from './egress/broker-container.js';
import { RUNTIME_IMAGE_UID } from '@cordon/core/backend';

/**
 * Canaries listen on a bridge gateway (IPv4 and IPv6 of a network made for the
 * run, else the default bridge's IPv4), which open-network control containers
 * reach and `network: 'none'` containers must not. With a non-runc
 * runtime (gVisor), control runs use `controlRuntime` with the same image and
 * code: the control proves the canary and the tool, the probe proves the runtime.
 */
export async function dockerConformance(
  executor: Executor,
  _options: Record<string, unknown> = {},
): Promise<ConformanceAdapter> {
  if (!(executor instanceof DockerBackendExecutor)) {
    throw new InvalidRequestError('executor', executor.name, 'must be a DockerBackendExecutor made by this package');
  }
  const { options } = executor;
  const api = DockerApi.connect(options);
  // A dual-stack network of our own for the controls, so the IPv6 probes have a control
  // too; the default bridge (IPv4 only) when that is not possible (remote daemon, not root).
  const local = (options.dockerHost ?? process.env.DOCKER_HOST ?? 'unix://').startsWith('unix://');
  const dualStack = local ? await createDualStackNetwork(api) : undefined;
  let gateway: string | undefined;
  let controlNetwork = options.openNetwork;
  if (dualStack) {
    executor.closeWith(dualStack);
    gateway = dualStack.gatewayIPv4;
    controlNetwork = dualStack.name;
  } else {
    gateway = bridgeGateway((await api.inspectNetwork(options.openNetwork)) as BridgeNetwork);
  }
  if (!gateway) {
    throw new InvalidRequestError(
      'options.openNetwork',
      options.openNetwork,
      'has no IPv4 gateway for the canaries to bind',
    );
  }

  // Probe D2 needs the sandboxes' system resolver to be the DNS canary: then a leak
  // of a plain getaddrinfo would show in the canary's log. Probes run on a sibling
  // of the given executor that differs only in /etc/resolv.conf (closed with it).
  const resolverOptions = { ...options, dns: [gateway] };
  let underTest = executor;
  if (!(options.dns?.length === 1 && options.dns[0] === gateway)) {
    underTest = await DockerBackendExecutor.create(resolverOptions);
    executor.closeWith(underTest);
  }

  // Controls run under `controlRuntime` (runc) with the same image and code: for gVisor sandboxes
  // the control proves the canary and the tool, the probe proves the runtime. Control
  // containers also get CAP_NET_RAW so the raw-socket probe has a valid control.
  const controlOptions = { ...resolverOptions, runtime: options.controlRuntime, openNetwork: controlNetwork };
  // The shared-resources probes' positive control: the same containers with every program
  // under one fixed uid, the image's 10001, as before per-sandbox uids. Under the control
  // runtime too: gVisor gives each sandbox a kernel of its own, so no uid is shared there.
  const sharedUserControl = await DockerBackendExecutor.create({
    ...resolverOptions,
    runtime: options.controlRuntime,
    sandboxUid: RUNTIME_IMAGE_UID,
    poolSize: 0,
  });
  executor.closeWith(sharedUserControl);

  const control = async (request: ExecutionRequest): Promise<ExecutionResult> => {
    // A short-lived executor per control run: nothing to keep alive or forget to close.
    const controlExecutor = await DockerBackendExecutor.createConformanceControl(controlOptions);
    try {
      return await controlExecutor.execute({ ...request, network: 'open' });
    } finally {
      await controlExecutor.close();
    }
  };

  return {
    executor: underTest,
    canaryNetwork: {
      bindIPv4: gateway,
      reachIPv4: gateway,
      ...(dualStack ? { bindIPv6: dualStack.gatewayIPv6, reachIPv6: dualStack.gatewayIPv6 } : {}),
      sharesHostLoopback: false,
      dnsPort: 53,
    },
    control,
    sharedUserControl,
    notApplicable: executor.facts.gvisor ? GVISOR_NOT_APPLICABLE : RUNC_NOT_APPLICABLE,
    async leftovers(): Promise<string[]> {
      // While open, refills and background removals are work in progress, not leftovers.
      if (!executor.closed) await Promise.all([executor.settled(), underTest.settled(), sharedUserControl.settled()]);
      const idle = executor.closed
        ? new Set<string>()
        : new Set([...executor.idleSandboxIds, ...underTest.idleSandboxIds, ...sharedUserControl.idleSandboxIds]);
      // An open executor's egress broker is standing, like its pool; once closed, nothing of it may remain.
      const executors = new Set([executor.executorId, underTest.executorId, sharedUserControl.executorId]);
      const standingBroker = (labels: Record<string, string> | null | undefined) =>
        !executor.closed &&
        labels?.[EGRESS_ROLE_LABEL] === EGRESS_ROLE &&
        executors.has(labels[DOCKER_LABELS.executor] ?? '');
      const found = await listCordonContainers(api, { [LABELS.owner]: OWNER_ID });
      const volumes = await api.listVolumes([`${LABELS.owner}=${OWNER_ID}`]);
      return [
        ...found
          .filter((info) => !idle.has(info.Id) && !standingBroker(info.Labels))
          .map(
            (info) =>
              `container ${info.Id.slice(0, 12)} ${info.Names?.[0] ?? ''} (${info.State}; execution ${info.Labels?.[LABELS.execution] ?? 'pooled'})`,
          ),
        ...volumes.filter((volume) => !standingBroker(volume.Labels)).map((volume) => `volume ${volume.Name}`),
      ];
    },
  };
}

/**
 * What no container setting can hide under runc: the kernel prints every mount's
 * root and options in /proc/self/mountinfo, and a container has neither a mount
 * namespace it could rearrange nor CAP_SYS_ADMIN. So the overlay root shows
 * Docker's layer directories (lowerdir=/var/lib/docker/overlay2/l/…, upperdir and
 * workdir under /var/lib/docker/overlay2/<id>/), and /etc/hostname, /etc/hosts and
 * /etc/resolv.conf, which Docker always bind-mounts, show their sources
 * (/var/lib/docker/containers/<container id>/…). gVisor's mount table is its own.
 */
const RUNC_NOT_APPLICABLE: Readonly<Record<string, string>> = {
  'host-identifiers:mount-paths':
    "under runc /proc/self/mountinfo is the host kernel's view of the container's mounts: the overlay root's lowerdir/upperdir/workdir under /var/lib/docker/overlay2 and the bind sources of /etc/hostname, /etc/hosts and /etc/resolv.conf under /var/lib/docker/containers/<container id>/ are printed by the kernel, and no container setting (without CAP_SYS_ADMIN or a user namespace) can hide them; runtime=runsc does",
};

const GVISOR_NOT_APPLICABLE: Readonly<Record<string, string>> = {
  'NL1:python-change':
    "gVisor's netstack does not implement SIOCSIFMTU (the probe gets ENOTTY, neither a change nor a permission error); NL1's interface listings still show only lo",
};

interface BridgeNetwork {
  IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] };
  Options?: Record<string, string>;
}

/**
 * The host's address on the bridge. Docker 20.10 leaves `Gateway` out for the
 * default bridge: then the bridge interface's own address (docker0), else the
 * subnet's first address, which Docker gives the gateway.
 */
function bridgeGateway(network: BridgeNetwork): string | undefined {
  const configs = (network.IPAM?.Config ?? []).filter((config) => config.Subnet && !config.Subnet.includes(':'));
  const explicit = configs.find((config) => config.Gateway)?.Gateway;
  if (explicit) return explicit;
  const bridgeName = network.Options?.['com.docker.network.bridge.name'];
  const onInterface = bridgeName
    ? networkInterfaces()[bridgeName]?.find((address) => address.family === 'IPv4')?.address
    : undefined;
  if (onInterface) return onInterface;
  const subnet = configs[0]?.Subnet;
  if (!subnet) return undefined;
  const octets = subnet.split('/')[0]?.split('.').map(Number);
  if (!octets || octets.length !== 4) return undefined;
  return [octets[0], octets[1], octets[2], (octets[3] ?? 0) + 1].join('.');
}
