import { BackendFailureError, BackendUnavailableError, CordonError } from '@cordon/core';
import { debug } from '@cordon/core/backend';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  Observable,
  type ConfigurationOptions,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import { findKubeconfig } from './kubeconfig-source.js';
import { BACKEND_NAME } from './manifests.js';

const RBAC_REMEDY =
  "Grant the backend's service account the rights in packages/backend-k8s/deploy/rbac.yaml (kubectl apply -f it), or run with a kubeconfig that has them.";

export interface CallOptions {
  signal?: AbortSignal;
  /** HTTP statuses the caller handles itself: the call resolves to `undefined` for them. */
  allow?: readonly number[];
  /** Content type for PATCH calls. */
  contentType?: string;
}

/** Thrown (as a CordonError) when the API server refuses a verb; names what was refused. */
export class KubeForbiddenError extends BackendUnavailableError {
  override name = 'KubeForbiddenError';
  readonly action: string;

  constructor(action: string, detail: string, options?: { cause?: unknown }) {
    super(BACKEND_NAME, `the API server forbids "${action}" (${detail})`, RBAC_REMEDY, options);
    this.action = action;
  }
}

/**
 * The Kubernetes client with cordon's rules: every call has a deadline (an
 * unreachable API server must not hang a run), and every failure becomes a typed
 * CordonError naming what was attempted; raw client errors never reach callers.
 */
export class KubeApi {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly networking: NetworkingV1Api;
  readonly server: string;
  readonly #timeoutMs: number;

  private constructor(config: KubeConfig, timeoutMs: number) {
    this.config = config;
    this.core = config.makeApiClient(CoreV1Api);
    this.networking = config.makeApiClient(NetworkingV1Api);
    this.server = config.getCurrentCluster()?.server ?? '(no server)';
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Loads a kubeconfig file, or the default chain (`KUBECONFIG`, `~/.kube/config`,
   * in-cluster service account).
   * @throws BackendUnavailableError when no usable configuration is found.
   */
  static load(options: {
    kubeconfig?: string | undefined;
    context?: string | undefined;
    apiTimeoutMs: number;
  }): KubeApi {
    const source = findKubeconfig({ kubeconfig: options.kubeconfig });
    if (source.kind === 'none') {
      throw new BackendUnavailableError(
        BACKEND_NAME,
        `no Kubernetes cluster is configured: no kubeconfig found (looked at ${source.lookedAt.join('; ')})`,
        "Point KUBECONFIG at your cluster's kubeconfig (export KUBECONFIG=/path/to/kubeconfig) or pass --option kubeconfig=/path/to/kubeconfig; for cordon's test cluster, `pnpm cluster:up` prints its path.",
      );
    }
    const config = new KubeConfig();
    try {
      if (source.kind === 'file') config.loadFromFile(source.path);
      else config.loadFromDefault();
      if (options.context !== undefined) config.setCurrentContext(options.context);
    } catch (error) {
      throw new BackendUnavailableError(
        BACKEND_NAME,
        `could not load a Kubernetes configuration: ${messageOf(error)}`,
        'Set KUBECONFIG (or the kubeconfig option) to a valid kubeconfig, or run inside a pod with a service account.',
        { cause: error },
      );
    }
    const cluster = config.getCurrentCluster();
    if (!cluster) {
      throw new BackendUnavailableError(
        BACKEND_NAME,
        'no Kubernetes cluster is configured (no kubeconfig found and not inside a pod)',
        "Set KUBECONFIG (or the kubeconfig option) to the cluster's kubeconfig, or run inside a pod with a service account.",
      );
    }
    if (options.context !== undefined && config.getCurrentContext() !== options.context) {
      throw new BackendUnavailableError(
        BACKEND_NAME,
        `kubeconfig context "${options.context}" does not exist`,
        'Pass a context that `kubectl config get-contexts` lists.',
      );
    }
    return new KubeApi(config, options.apiTimeoutMs);
  }

  /**
   * Runs one API call with a deadline and translates failures.
   * @param action what is attempted, e.g. `create pods in namespace x`, for errors.
   */
  async call<T>(
    action: string,
    request: (options: ConfigurationOptions) => Promise<T>,
    options: CallOptions & { allow: readonly number[] },
  ): Promise<T | undefined>;
  async call<T>(
    action: string,
    request: (options: ConfigurationOptions) => Promise<T>,
    options?: CallOptions,
  ): Promise<T>;
  async call<T>(
    action: string,
    request: (options: ConfigurationOptions) => Promise<T>,
    options: CallOptions = {},
  ): Promise<T | undefined> {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
    // The object-parameter API passes per-call options to the Observable layer as is.
    const middleware: ObservableMiddleware = {
      pre: (context) => {
        context.setSignal(signal);
        if (options.contentType !== undefined) context.setHeaderParam('Content-Type', options.contentType);
        return new Observable(Promise.resolve(context));
      },
      post: (context) => new Observable(Promise.resolve(context)),
    };
    try {
      return await request({ middleware: [middleware], middlewareMergeStrategy: 'append' });
    } catch (error) {
      if (error instanceof ApiException && options.allow?.includes(error.code)) return undefined;
      throw this.translate(action, error, deadline.aborted && !options.signal?.aborted);
    }
  }

  /** Turns a client error into a CordonError naming the action. */
  translate(action: string, error: unknown, timedOut = false): CordonError {
    if (error instanceof CordonError) return error;
    if (timedOut) {
      return new BackendUnavailableError(
        BACKEND_NAME,
        `the Kubernetes API server at ${this.server} did not answer "${action}" within ${this.#timeoutMs} ms`,
        'Check that the cluster is up and reachable from here (kubectl get --raw /readyz), or raise the apiTimeoutMs option.',
        { cause: error },
      );
    }
    if (error instanceof ApiException) {
      const detail = apiMessage(error);
      switch (error.code) {
        case 401:
          return new BackendUnavailableError(
            BACKEND_NAME,
            `the Kubernetes API server rejected the credentials for "${action}"`,
            'Refresh the kubeconfig credentials or the service account token.',
            { cause: error },
          );
        case 403:
          return new KubeForbiddenError(action, detail, { cause: error });
        default:
          return new BackendFailureError(
            BACKEND_NAME,
            `"${action}" failed with HTTP ${error.code}: ${detail}`,
            { status: error.code },
            { cause: error },
          );
      }
    }
    if (isNetworkError(error)) {
      return new BackendUnavailableError(
        BACKEND_NAME,
        `the Kubernetes API server at ${this.server} is unreachable (${messageOf(error)})`,
        'Check that the cluster is up and that KUBECONFIG points at it (kubectl get --raw /readyz).',
        { cause: error },
      );
    }
    return new BackendFailureError(BACKEND_NAME, `"${action}" failed: ${messageOf(error)}`, {}, { cause: error });
  }
}

function apiMessage(error: ApiException<unknown>): string {
  const body = error.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // The body is used as the message; not logged (it can echo the request).
      debug('k8s.api', () => `an API error body of ${body.length} chars is not JSON`);
      return body.slice(0, 300);
    }
  }
  if (body !== null && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  return error.message.split('\n')[0] ?? `HTTP ${error.code}`;
}

function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (
    [
      'ECONNREFUSED',
      'ENOTFOUND',
      'EHOSTUNREACH',
      'ENETUNREACH',
      'ECONNRESET',
      'ETIMEDOUT',
      'EAI_AGAIN',
      'EPIPE',
    ].includes(code)
  )
    return true;
  return error.name === 'FetchError' || error.name === 'AbortError';
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  // The websocket library rejects with an ErrorEvent-like object, not an Error.
  if (error !== null && typeof error === 'object' && 'message' in error && typeof error.message === 'string')
    return error.message;
  return String(error);
}
