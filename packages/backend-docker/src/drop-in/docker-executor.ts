import { exitCodeFor, InvalidRequestError, type ExecutionResult } from '@cordon/core';
import { DockerBackendExecutor } from '../docker-backend-executor.js';
import { dockerAvailability } from '../availability.js';
import { DEFAULT_IMAGE } from '../runtime-image.js';
import type { DockerExecutionResult, DockerExecutorInfo, DockerExecutorOptions } from './types.js';
import { ignored } from '@cordon/core/backend';

const MiB = 1024 * 1024;

/**
 * Drop-in for the original `DockerExecutor`: same options, same `executeCode`
 * result, now over cordon's hardened single-use containers and warm pool. Runs
 * JavaScript on Node. Close it (or `await using`) to remove its pool.
 */
export class DockerExecutor implements AsyncDisposable {
  readonly #options: Required<
    Pick<DockerExecutorOptions, 'image' | 'networkMode' | 'memoryLimit' | 'cpuLimit' | 'timeout'>
  >;
  #executor: Promise<DockerBackendExecutor> | undefined;

  constructor(options: DockerExecutorOptions = {}) {
    const networkMode = options.networkMode ?? 'none';
    if (networkMode !== 'none' && networkMode !== 'bridge') {
      throw new InvalidRequestError('networkMode', networkMode, "must be 'none' or 'bridge'");
    }
    this.#options = {
      image: options.image ?? DEFAULT_IMAGE,
      networkMode,
      memoryLimit: options.memoryLimit ?? 512 * MiB,
      cpuLimit: options.cpuLimit ?? 1e9,
      timeout: options.timeout ?? 30_000,
    };
  }

  /** Runs JavaScript; `env` is the only environment the code sees (besides PATH and HOME). */
  async executeCode(code: string, env: Record<string, string> = {}): Promise<DockerExecutionResult> {
    const started = performance.now();
    const failed = (error: unknown): DockerExecutionResult => ({
      success: false,
      output: '',
      error: error instanceof Error ? error.message : String(error),
      exitCode: 1,
      executionTime: Math.round(performance.now() - started),
    });
    let executor: DockerBackendExecutor;
    try {
      executor = await this.#backend();
    } catch (error) {
      // Not created (no daemon, no image): try again on the next call.
      this.#executor = undefined;
      return failed(error);
    }
    let result: ExecutionResult;
    try {
      result = await executor.execute({
        language: 'node',
        code,
        env,
        timeoutMs: this.#options.timeout,
        network: this.#options.networkMode === 'bridge' ? 'open' : 'none',
        limits: { memoryBytes: this.#options.memoryLimit, cpus: this.#options.cpuLimit / 1e9 },
      });
    } catch (error) {
      return failed(error);
    }
    return {
      success: result.status === 'ok',
      output: result.stdout,
      error: describeFailure(result),
      exitCode: exitCodeFor(result),
      executionTime: Math.round(performance.now() - started),
    };
  }

  /** True when the daemon answers and the image is present. */
  async isAvailable(): Promise<boolean> {
    return (await dockerAvailability({ image: this.#options.image })).usable;
  }

  async getInfo(): Promise<DockerExecutorInfo> {
    const availability = await dockerAvailability({ image: this.#options.image });
    return {
      backend: 'docker',
      available: availability.usable,
      ...this.#options,
      detail: availability.usable ? availability.detail : `${availability.detail}. ${availability.remedy ?? ''}`.trim(),
    };
  }

  /** Removes the warm pool and every container this executor made. */
  async close(): Promise<void> {
    const executor = this.#executor;
    this.#executor = undefined;
    // Its creation error was reported by the call that made it.
    if (executor) await (await executor.catch(ignored('docker.drop-in', 'executor creation, seen at close')))?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #backend(): Promise<DockerBackendExecutor> {
    // Pool only when the limits match the pool's (the defaults); otherwise every run is cold anyway.
    const pooled =
      this.#options.memoryLimit === 512 * MiB && this.#options.cpuLimit === 1e9 && this.#options.networkMode === 'none';
    this.#executor ??= DockerBackendExecutor.create({
      image: this.#options.image,
      poolLanguages: 'node',
      poolSize: pooled ? 2 : 0,
    });
    return this.#executor;
  }
}

function describeFailure(result: ExecutionResult): string {
  switch (result.status) {
    case 'ok':
    case 'error':
      return result.stderr;
    case 'timeout':
      return joinLines(result.stderr, 'Execution timed out');
    case 'oom':
      return joinLines(result.stderr, 'Execution exceeded the memory limit');
    case 'aborted':
      return joinLines(result.stderr, 'Execution was aborted');
  }
}

function joinLines(first: string, second: string): string {
  return first === '' ? second : `${first.replace(/\n$/, '')}\n${second}`;
}
