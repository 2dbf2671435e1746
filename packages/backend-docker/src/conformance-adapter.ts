import { SESSION_ID, LABELS, InvalidRequestError, type ConformanceAdapter, type ExecutionRequest, type ExecutionResult, type Executor } from '@cordon/core';
import { connectDocker, dockerCall } from './docker-client.js';
import { DockerBackendExecutor } from './docker-backend-executor.js';
import { listCordonContainers } from './reaper.js';

/**
 * Canaries listen on the Docker bridge gateway, which open-network control
 * containers reach and `network: 'none'` containers must not. With a non-runc
 * runtime (gVisor), control runs use `controlRuntime` with the same image and
 * code: the control proves the canary and the tool, the probe proves the runtime.
 */
export async function dockerConformance(executor: Executor, _options: Record<string, unknown> = {}): Promise<ConformanceAdapter> {
  if (!(executor instanceof DockerBackendExecutor)) {
    throw new InvalidRequestError('executor', executor.name, 'must be a DockerBackendExecutor made by this package');
  }
  const { options } = executor;
  const docker = connectDocker(options.dockerHost);
  const network = await dockerCall(`inspect the "${options.openNetwork}" network`, options.apiTimeoutMs, () => docker.getNetwork(options.openNetwork).inspect() as Promise<unknown>) as {
    IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] };
  };
  const gateway = network.IPAM?.Config?.find((config) => config.Gateway && !config.Gateway.includes(':'))?.Gateway;
  if (!gateway) {
    throw new InvalidRequestError('options.openNetwork', options.openNetwork, 'has no IPv4 gateway for the canaries to bind');
  }

  const needsOtherControl = executor.facts.runtime !== options.controlRuntime && options.runtime !== undefined;
  const control = needsOtherControl
    ? async (request: ExecutionRequest): Promise<ExecutionResult> => {
        // A short-lived runc executor per control run: nothing to keep alive or forget to close.
        const controlExecutor = await DockerBackendExecutor.create({ ...options, runtime: options.controlRuntime, poolSize: 0 });
        try {
          return await controlExecutor.execute({ ...request, network: 'open' });
        } finally {
          await controlExecutor.close();
        }
      }
    : undefined;

  return {
    executor,
    canaryNetwork: { bindIPv4: gateway, reachIPv4: gateway, sharesHostLoopback: false },
    ...(control ? { control } : {}),
    async leftovers(): Promise<string[]> {
      const idle = executor.closed ? new Set<string>() : executor.idleContainerIds();
      const found = await listCordonContainers(docker, options.apiTimeoutMs, { [LABELS.session]: SESSION_ID });
      return found
        .filter((info) => !idle.has(info.Id))
        .map((info) => `container ${info.Id.slice(0, 12)} ${info.Names?.[0] ?? ''} (${info.State}; execution ${info.Labels?.[LABELS.execution] ?? 'pooled'})`);
    },
  };
}
