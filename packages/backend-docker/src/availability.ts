import type { BackendAvailability } from '@cordon/core';
import { checkDaemon } from './daemon-check.js';
import { DockerApi } from './docker-api.js';
import { parseDockerOptions } from './options.js';

/** Short timeout: `auto` selection and `cordon doctor` must not wait on a dead daemon. */
const PROBE_TIMEOUT_MS = 2_000;

/** Daemon reachable, runtime configured and runtime image present; never throws. */
export async function dockerAvailability(options: Record<string, unknown> = {}): Promise<BackendAvailability> {
  try {
    const resolved = parseDockerOptions(options);
    const api = DockerApi.connect({
      dockerHost: resolved.dockerHost,
      apiTimeoutMs: Math.min(PROBE_TIMEOUT_MS, resolved.apiTimeoutMs),
    });
    const facts = await checkDaemon(api, resolved);
    return {
      usable: true,
      detail: `Docker ${facts.serverVersion}, runtime ${facts.runtime}, image ${resolved.image}`,
      network: 'kernel',
    };
  } catch (error) {
    const remedy = (error as { remedy?: unknown }).remedy;
    const reason = (error as { context?: { reason?: unknown } }).context?.reason;
    return {
      usable: false,
      detail: typeof reason === 'string' ? reason : error instanceof Error ? error.message : String(error),
      ...(typeof remedy === 'string' ? { remedy } : {}),
      network: 'kernel',
    };
  }
}
