import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

// Idles, reports every SIGUSR2 it receives on stdout, and exits when the suite's end of its stdin closes (the suite died).
const HELPER = `process.on('SIGUSR2', () => process.stdout.write('SIGUSR2\\n')); process.stdin.on('end', () => process.exit(0)).resume(); process.stdout.write('READY\\n');`;

/**
 * A host process the sandbox must not see, signal or trace. Its command line and
 * environment carry the run's planted secret, so a sandbox that can read other
 * processes' `/proc/<pid>/cmdline` or `environ` is caught too.
 */
export class HostProcessCanary {
  readonly #child: ChildProcess;
  #signals = 0;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(marker: string, secretName: string, secretValue: string): Promise<HostProcessCanary> {
    const child = spawn(process.execPath, ['-e', HELPER, marker, secretValue], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', [secretName]: secretValue },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const canary = new HostProcessCanary(child);
    const lines = createInterface({ input: child.stdout });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the host process canary did not start')), 10_000);
      lines.once('line', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    lines.on('line', (line) => {
      if (line === 'SIGUSR2') canary.#signals++;
    });
    return canary;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGUSR2s received so far: a sandbox that can signal host processes raises it. */
  get signalsReceived(): number {
    return this.#signals;
  }

  async close(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGKILL');
    await exited;
  }
}
