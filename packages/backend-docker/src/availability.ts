import type { BackendAvailability, RuntimeImageReport } from '@cordon/core';
import { RUNNER_PROTOCOL, RUNNER_PROTOCOL_LABEL, RUNTIME_VERSION_LABEL } from '@cordon/core/backend';
import { checkDaemon } from './daemon-check.js';
import { DockerApi } from './docker-api.js';
import { rawStatusOf } from './docker-errors.js';
import { parseDockerOptions } from './options.js';

/** Short timeout: `auto` selection and `cordon doctor` must not wait on a dead daemon. */
const PROBE_TIMEOUT_MS = 2_000;

/** Daemon reachable, runtime configured and runtime image present; never throws. */
export async function dockerAvailability(options: Record<string, unknown> = {}): Promise<BackendAvailability> {
  let api: DockerApi | undefined;
  let image: string | undefined;
  try {
    const resolved = parseDockerOptions(options);
    image = resolved.image;
    api = DockerApi.connect({
      dockerHost: resolved.dockerHost,
      apiTimeoutMs: Math.min(PROBE_TIMEOUT_MS, resolved.apiTimeoutMs),
    });
    const facts = await checkDaemon(api, resolved);
    return {
      usable: true,
      detail: `Docker ${facts.serverVersion}, runtime ${facts.runtime}, image ${resolved.image}`,
      network: 'kernel',
      image: imageReport(resolved.image, facts.imageLabels),
    };
  } catch (error) {
    const remedy = (error as { remedy?: unknown }).remedy;
    const reason = (error as { context?: { reason?: unknown } }).context?.reason;
    const report = api && image ? await inspectForReport(api, image) : undefined;
    return {
      usable: false,
      detail: typeof reason === 'string' ? reason : error instanceof Error ? error.message : String(error),
      ...(typeof remedy === 'string' ? { remedy } : {}),
      network: 'kernel',
      ...(report ? { image: report } : {}),
    };
  }
}

function imageReport(ref: string, labels: Record<string, string> | undefined): RuntimeImageReport {
  const runtimeVersion = labels?.[RUNTIME_VERSION_LABEL];
  const runnerProtocol = labels?.[RUNNER_PROTOCOL_LABEL];
  return {
    ref,
    present: labels !== undefined,
    ...(runtimeVersion !== undefined ? { runtimeVersion } : {}),
    ...(runnerProtocol !== undefined ? { runnerProtocol } : {}),
    expectedProtocol: RUNNER_PROTOCOL,
  };
}

/** After a failed check: what the image says, when the daemon answers (undefined when it does not). */
async function inspectForReport(api: DockerApi, ref: string): Promise<RuntimeImageReport | undefined> {
  try {
    const inspected = await api.inspectImage(ref);
    return imageReport(ref, inspected.Config?.Labels ?? {});
  } catch (error) {
    const status = rawStatusOf((error as { cause?: unknown }).cause) ?? rawStatusOf(error);
    return status === 404 ? imageReport(ref, undefined) : undefined;
  }
}
