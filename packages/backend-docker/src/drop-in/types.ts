/** The original design's options, unchanged; see the README for what each maps to. */
export interface DockerExecutorOptions {
  /** @default cordon's runtime image, `cordon-runtime:<version>` */
  image?: string;
  /** `bridge` gives the code the network (`network: 'open'`). @default 'none' */
  networkMode?: 'none' | 'bridge';
  /** Bytes. @default 512 MiB */
  memoryLimit?: number;
  /** NanoCpus (1e9 = one CPU). @default 1e9 */
  cpuLimit?: number;
  /** Milliseconds. @default 30000 */
  timeout?: number;
  /** Accepted and ignored: code and files travel over stdin, no host directory is mounted. */
  tempDir?: string;
  /** Accepted; the root filesystem is always read-only (the working directory and /tmp are writable tmpfs). @default true */
  readonlyRootfs?: boolean;
  /** Accepted and ignored: every container is made with AutoRemove and ends on its own when the caller's process ends. @default true */
  autoRemove?: boolean;
}

/** What `executeCode` resolves to, as in the original design. */
export interface DockerExecutionResult {
  success: boolean;
  /** Standard output. */
  output: string;
  /** Standard error, or why the run failed (timeout, memory). */
  error: string;
  /** The program's exit code; 124 for a timeout, 137 for the memory limit, 128+n for signal n. */
  exitCode: number;
  /** Milliseconds. */
  executionTime: number;
}

export interface DockerExecutorInfo {
  backend: 'docker';
  available: boolean;
  image: string;
  networkMode: 'none' | 'bridge';
  memoryLimit: number;
  cpuLimit: number;
  timeout: number;
  /** What the daemon check found, or why it failed. */
  detail: string;
}
