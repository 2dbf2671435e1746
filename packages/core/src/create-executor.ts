import { existsSync } from 'node:fs';
import type { CordonBackend } from './backend.js';
import { isBackendInstalled, loadBackend } from './backend-registry.js';
import { BackendUnavailableError } from './errors.js';
import type { Executor, ExecutorOptions } from './executor.js';
import { debug } from './backend/debug.js';

export interface CreateExecutorOptions extends ExecutorOptions {
  /**
   * `auto`, `spawn`, `docker`, `k8s`, or a package name or path of a third-party backend.
   * @default process.env.CORDON_BACKEND ?? 'auto'
   */
  backend?: string;
  /** Backend-specific options; each backend documents its own. */
  [option: string]: unknown;
}

/**
 * Creates an executor on the chosen backend. `auto` picks k8s inside a pod, docker
 * when a daemon is reachable and the runtime image is present, else spawn, and
 * considers only installed backend packages.
 */
export async function createExecutor(options: CreateExecutorOptions = {}): Promise<Executor> {
  const { backend: requested, ...rest } = options;
  const spec = requested ?? process.env.CORDON_BACKEND ?? 'auto';
  const backend = spec === 'auto' ? (await detectBackend()).backend : await loadBackend(spec);
  return backend.create({ ...backendOptionsFromEnv(backend.name), ...rest });
}

export interface DetectedBackend {
  backend: CordonBackend;
  reason: string;
}

/** The `auto` choice, with why; see `createExecutor`. */
export async function detectBackend(): Promise<DetectedBackend> {
  const skipped: string[] = [];
  if (isInsidePod()) {
    const found = await usable('k8s', skipped);
    if (found) return chosen(found, 'running inside a Kubernetes pod');
  } else debug('core.auto', 'not inside a Kubernetes pod: k8s not considered');
  const docker = await usable('docker', skipped);
  if (docker) return chosen(docker, 'a Docker daemon is reachable and the runtime image is present');
  const spawn = isBackendInstalled('spawn') ? await loadBackend('spawn') : undefined;
  if (spawn) return chosen(spawn, skipped.length > 0 ? `default (${skipped.join('; ')})` : 'default');
  debug('core.auto', 'no usable backend');
  throw new BackendUnavailableError(
    'auto',
    `no usable backend is installed${skipped.length > 0 ? ` (${skipped.join('; ')})` : ''}`,
    'Run: pnpm add @cordon/backend-spawn (or @cordon/backend-docker, @cordon/backend-k8s).',
  );
}

function chosen(backend: CordonBackend, reason: string): DetectedBackend {
  debug('core.auto', () => `chose backend ${backend.name}`);
  return { backend, reason };
}

async function usable(name: string, skipped: string[]): Promise<CordonBackend | undefined> {
  if (!isBackendInstalled(name)) {
    debug('core.auto', () => `backend ${name} not installed, skipped`);
    return undefined;
  }
  const backend = await loadBackend(name);
  const availability = await backend.availability(backendOptionsFromEnv(name));
  if (availability.usable) return backend;
  // Names only: the detail can quote configuration (cordon doctor shows it).
  debug('core.auto', () => `backend ${name} not usable, skipped`);
  skipped.push(`${name}: ${availability.detail}`);
  return undefined;
}

function isInsidePod(): boolean {
  return (
    process.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync('/var/run/secrets/kubernetes.io/serviceaccount')
  );
}

/** `CORDON_DOCKER_POOL_SIZE=2` → `{ poolSize: '2' }` for backend `docker`. */
export function backendOptionsFromEnv(
  backendName: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const prefix = `CORDON_${backendName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;
  const options: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(prefix) || value === undefined) continue;
    options[camelCase(key.slice(prefix.length))] = value;
  }
  return options;
}

function camelCase(upperSnake: string): string {
  return upperSnake.toLowerCase().replace(/_([a-z0-9])/g, (_, char: string) => char.toUpperCase());
}
