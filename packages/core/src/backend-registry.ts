import 'reflect-metadata';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { container } from 'tsyringe';
import type { CordonBackend } from './backend.js';
import { BackendUnavailableError, InvalidRequestError } from './errors.js';
import { debug } from './backend/debug.js';

/** Backends that ship with cordon, each in its own package. */
export const BUILTIN_BACKENDS = ['spawn', 'docker', 'k8s'] as const;
export type BuiltinBackend = (typeof BUILTIN_BACKENDS)[number];

const TOKEN_PREFIX = 'cordon.backend:';

/** Registers a backend in the shared tsyringe container, so `createExecutor` finds it by name. */
export function registerBackend(backend: CordonBackend): void {
  const adapted = withAvailability(backend);
  assertBackendShape(adapted, backend?.name ?? 'backend');
  container.register<CordonBackend>(TOKEN_PREFIX + adapted.name, { useValue: adapted });
}

export function registeredBackend(name: string): CordonBackend | undefined {
  const token = TOKEN_PREFIX + name;
  return container.isRegistered(token) ? container.resolve<CordonBackend>(token) : undefined;
}

export function packageNameFor(spec: string): string {
  return (BUILTIN_BACKENDS as readonly string[]).includes(spec) ? `@cordon/backend-${spec}` : spec;
}

/**
 * Finds a backend by built-in name (`spawn`, `docker`, `k8s`), package name, or
 * file path, loading its package on demand and registering it.
 * @throws BackendUnavailableError naming the package to install.
 */
export async function loadBackend(spec: string): Promise<CordonBackend> {
  if (spec.trim() === '') throw new InvalidRequestError('backend', spec, 'must name a backend');
  const registered = registeredBackend(spec);
  if (registered) return registered;

  const isPath = spec.startsWith('.') || isAbsolute(spec);
  const packageName = isPath ? spec : packageNameFor(spec);
  const module = await importBackendModule(spec, packageName, isPath);
  const candidate = withAvailability((module.backend ?? module.default) as CordonBackend | undefined);
  assertBackendShape(candidate, spec);
  registerBackend(candidate);
  if (candidate.name !== spec) container.register<CordonBackend>(TOKEN_PREFIX + spec, { useValue: candidate });
  return candidate;
}

/**
 * The module of a built-in backend's package, for commands that use more than its
 * `backend` export (`cordon image build`); loaded on demand, never a static dependency.
 * @throws BackendUnavailableError naming the package to install.
 */
export async function loadBackendModule(name: BuiltinBackend): Promise<Record<string, unknown>> {
  return importBackendModule(name, packageNameFor(name), false);
}

/** True when the backend's package can be found from here, without loading it. */
export function isBackendInstalled(spec: string): boolean {
  if (registeredBackend(spec)) return true;
  return resolveFromProject(packageNameFor(spec)) !== undefined || resolveFromHere(packageNameFor(spec));
}

async function importBackendModule(
  spec: string,
  packageName: string,
  isPath: boolean,
): Promise<Record<string, unknown>> {
  if (isPath) {
    const url = pathToFileURL(resolve(process.cwd(), spec)).href;
    try {
      return (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new BackendUnavailableError(
        spec,
        `could not load the backend module at ${spec}`,
        'Check the path points at a built ES module that exports `backend`.',
        { cause: error },
      );
    }
  }
  // Backends are installed beside the caller's copy of core, so resolve from the project first.
  const fromProject = resolveFromProject(packageName);
  try {
    return (await import(fromProject ? pathToFileURL(fromProject).href : packageName)) as Record<string, unknown>;
  } catch (error) {
    if (isModuleNotFound(error, packageName)) {
      const known = (BUILTIN_BACKENDS as readonly string[]).includes(spec);
      throw new BackendUnavailableError(
        spec,
        `package ${packageName} is not installed`,
        known
          ? `Run: pnpm add ${packageName} (or npm install ${packageName}).`
          : `Use one of ${BUILTIN_BACKENDS.join(', ')}, or install a package named "${packageName}" that exports a cordon backend.`,
        { cause: error },
      );
    }
    throw new BackendUnavailableError(
      spec,
      `package ${packageName} failed to load: ${error instanceof Error ? error.message : String(error)}`,
      'Reinstall it, or run `cordon doctor`.',
      { cause: error },
    );
  }
}

function resolveFromProject(packageName: string): string | undefined {
  try {
    return createRequire(join(process.cwd(), 'package.json')).resolve(packageName);
  } catch (error) {
    debug('core.registry', () => `resolve ${packageName} from the project`, error);
    return undefined;
  }
}

function resolveFromHere(packageName: string): boolean {
  try {
    createRequire(import.meta.url).resolve(packageName);
    return true;
  } catch (error) {
    debug('core.registry', () => `resolve ${packageName} from core`, error);
    return false;
  }
}

function isModuleNotFound(error: unknown, packageName: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && error.message.includes(packageName);
}

/**
 * A module written before `probe()` was renamed `availability()` gets an
 * `availability` that calls its `probe` (kept for one release).
 */
function withAvailability<T extends CordonBackend | undefined>(candidate: T): T {
  const value = candidate as Partial<CordonBackend> | undefined | null;
  if (!value || typeof value !== 'object' || typeof value.availability === 'function') return candidate;
  const legacy = value.probe;
  if (typeof legacy !== 'function') return candidate;
  debug('core.registry', () => `backend ${String(value.name)} has probe() only (the old name of availability())`);
  return { ...value, availability: (options?: Record<string, unknown>) => legacy.call(value, options) } as T;
}

function assertBackendShape(candidate: unknown, spec: string): asserts candidate is CordonBackend {
  const value = candidate as Partial<CordonBackend> | undefined;
  const ok =
    value !== undefined &&
    value !== null &&
    typeof value.name === 'string' &&
    typeof value.create === 'function' &&
    typeof value.availability === 'function' &&
    typeof value.conformance === 'function';
  if (!ok) {
    throw new BackendUnavailableError(
      spec,
      'the module does not export a cordon backend',
      'Export `backend` (or a default export) with name, create(options), availability() and conformance(executor, options).',
    );
  }
}
