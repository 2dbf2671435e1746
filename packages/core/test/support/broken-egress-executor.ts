import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BaseExecutor, type RunContext, type RunOutcome } from '../../src/backend/base-executor.js';
import type { BackendCapabilities, EgressCapabilities } from '../../src/capabilities.js';
import type { Executor } from '../../src/executor.js';
import type { ExecutionRequest } from '../../src/request.js';
import type { AllowNetworkPolicy } from '../../src/egress/policy-types.js';
import type { ConformanceAdapter } from '../../src/conformance/adapter.js';
import { findOnPath, hostCommand } from '../../src/conformance/on-host.js';
import { LeakyForwarder, type BrokenEgress } from './leaky-forwarder.js';
import { guardHostGroup } from './host-group.js';

/** Where the egress checks' programs find the HTTP proxy (clients.ts): the one address they all use. */
const PROXY = { host: '127.0.0.1', port: 3128 };
/** How long a run waits for that address while something else holds it. */
const PROXY_WAIT_MS = 10_000;
/** Proxy settings of the host that must not reach a program: it is to talk to this executor's forwarder only. */
const PROXY_VARIABLES = /^(?:https?_proxy|all_proxy|no_proxy|node_use_env_proxy)$/i;

/**
 * DELIBERATELY BROKEN egress. Claims allow-list enforcement (capabilities().egress)
 * but runs each program on the host, as the unisolated executor does, with the
 * policy's test names resolving (through a hosts file bind-mounted in a mount
 * namespace of the run's own) to a LeakyForwarder that does not enforce the
 * policy as its audit claims. One run at a time: the programs' proxy address is
 * fixed, so the run's proxy holds it while the run lasts. Needs root (mount namespace, ports
 * 80 and 443) and runs only allow-lists. Never shipped.
 */
export class BrokenEgressExecutor extends BaseExecutor {
  readonly name: string;
  readonly #broken: BrokenEgress;
  readonly #dirs = new Set<string>();
  /** Where the next run's block of 127.77/16 is: random, so two self-tests on one machine rarely meet. */
  #runs = randomInt(250);

  readonly #capture: EgressCapabilities['capture'];

  /** `capture` is what it claims: with `proxy-only` the suite expects raw connections to fail, and they do not. */
  constructor(broken: BrokenEgress, capture: EgressCapabilities['capture'] = 'all-tcp') {
    super({ maxConcurrency: 1 });
    this.#broken = broken;
    this.#capture = capture;
    this.name = `broken-egress-test:${broken}${capture === 'all-tcp' ? '' : `:${capture}`}`;
  }

  /** Why this executor cannot run here, or undefined. */
  static unavailable(): string | undefined {
    if (process.getuid?.() !== 0) return 'not root (a mount namespace and ports 80 and 443 need it)';
    if (!findOnPath('unshare') || !findOnPath('mount')) return 'unshare or mount missing (util-linux)';
    return undefined;
  }

  capabilities(): BackendCapabilities {
    return {
      name: this.name,
      languages: ['node', 'python', 'bash'],
      network: 'kernel',
      limits: { memoryBytes: 'cgroup', cpus: 'cgroup', pids: 'cgroup', outputBytes: 'streaming', diskBytes: 'cgroup' },
      egress: { capture: this.#capture, observes: ['proxy-connect', 'proxy-http', 'captured'], dnsUnderNone: false },
      notes: [`test only: egress is broken (${this.#broken})`],
    };
  }

  protected async run(context: RunContext): Promise<RunOutcome> {
    const { request } = context;
    if (request.network.mode !== 'allow') throw new Error(`${this.name} runs only allow-lists`);
    const command = hostCommand(request.language, request.code);
    if (!command) throw new Error(`no ${request.language} on this host`);
    const forwarder = await this.#startForwarder(request.network);
    const dir = await mkdtemp(join(tmpdir(), 'cordon-broken-egress-'));
    this.#dirs.add(dir);
    let proxy: Server | undefined;
    try {
      proxy = await listenProxy(forwarder, context.signal);
      const hosts = join(dir, 'hosts');
      await writeFile(hosts, forwarder.hostsFile());
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !PROXY_VARIABLES.test(name)));
      const exit = await new Promise<{ exitCode: number | null; signal: string | null }>((resolve, reject) => {
        // The bind mount is private to the run's mount namespace: the host's /etc/hosts is untouched.
        const child = spawn(
          'unshare',
          [
            '--mount',
            '--propagation',
            'private',
            '--',
            '/bin/sh',
            '-c',
            'mount --bind "$1" /etc/hosts && shift && exec "$@"',
            'sh',
            hosts,
            ...[command[0], ...command[1]],
          ],
          { cwd: dir, env: { ...env, ...request.env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] },
        );
        child.stdout.on('data', (chunk: Buffer) => context.stdout.write(chunk));
        child.stderr.on('data', (chunk: Buffer) => context.stderr.write(chunk));
        const group = guardHostGroup(child, request.stdin, context.signal);
        child.on('error', reject);
        child.on('close', (exitCode, signal) => {
          group.forget();
          group.killGroup();
          resolve({ exitCode, signal });
        });
      });
      await forwarder.close();
      return { ...exit, oomKilled: false, files: [], egress: forwarder.audit() };
    } finally {
      await forwarder.close();
      await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
      await rm(dir, { recursive: true, force: true });
      this.#dirs.delete(dir);
    }
  }

  /** The run's forwarder, on a block of 127.77/16 nothing else on this machine listens on. */
  async #startForwarder(policy: AllowNetworkPolicy): Promise<LeakyForwarder> {
    for (let attempt = 1; ; attempt++) {
      const forwarder = new LeakyForwarder(policy, this.#broken, (this.#runs++ % 250) + 1);
      try {
        await forwarder.start();
        return forwarder;
      } catch (error) {
        await forwarder.close();
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw error;
      }
    }
  }

  leftoverDirs(): string[] {
    return [...this.#dirs].filter((dir) => existsSync(dir));
  }

  protected async dispose(): Promise<void> {
    for (const dir of this.#dirs) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The run's proxy at the programs' fixed proxy address, held only while the run
 * lasts; while another process holds the address (another self-test on this
 * machine), waits for it rather than failing.
 */
async function listenProxy(forwarder: LeakyForwarder, signal: AbortSignal): Promise<Server> {
  const deadline = Date.now() + PROXY_WAIT_MS;
  for (;;) {
    const server = createServer((socket) => forwarder.proxy(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(PROXY, resolve);
      });
      return server;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline || signal.aborted)
        throw new Error(`cannot listen on ${PROXY.host}:${PROXY.port} for the programs' proxy`, { cause: error });
      await sleep(200);
    }
  }
}

export function brokenEgressAdapter(executor: BrokenEgressExecutor, control?: Executor): ConformanceAdapter {
  return {
    executor,
    // The open-network control of the checks that need one (the uncaptured raw clients): e.g. the unisolated executor.
    ...(control ? { control: (request: ExecutionRequest) => control.execute({ ...request, network: 'open' }) } : {}),
    canaryNetwork: {
      bindIPv4: '127.0.0.1',
      reachIPv4: '127.0.0.1',
      bindIPv6: '::1',
      reachIPv6: '::1',
      sharesHostLoopback: true,
    },
    leftovers: () => Promise.resolve(executor.leftoverDirs()),
  };
}
