import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { AllowNetworkPolicy, EgressAudit, EgressAuditLog } from '@cordon/core';
import { EgressSession } from '@cordon/egress-broker';
import { advisoryDirPrefix } from './advisory-dir.js';
import { builtFile } from './built-file.js';
import { boundCloseAfterKill } from './close-bound.js';
import { readFileSync } from 'node:fs';
import { forwarderCommand, IPV4_RULES, IPV6_RULES, type EgressTools, type ForwarderScope } from './egress-netns.js';

const FORWARDER_SOURCE = `#line 1 "egress-forwarder.pl"\n${readFileSync(builtFile('egress-forwarder.pl'), 'utf8')}`;
/** The namespace setup and the forwarder's listeners take tens of milliseconds; this is for a stuck host. */
const FORWARDER_READY_MS = 10_000;
const MAX_FORWARDER_STDERR = 4096;

/**
 * One execution's way out under an allow-list: its broker session on a unix socket in a
 * private host directory, and the forwarder in its network namespace that is the only
 * thing able to reach that socket. The directory and the forwarder can be made ahead
 * (a pool member): the forwarder connects to the socket per inbound connection, so
 * nothing needs to listen there until `bind` opens the execution's session, before the
 * sandbox gets its job. Closed after the sandbox is dead, returning the audit.
 */
export class SandboxEgress implements AsyncDisposable {
  readonly #dir: string;
  #session: EgressSession | undefined;
  #audit: EgressAuditLog | undefined;
  #forwarder: ChildProcess | undefined;
  #forwarderExit: Promise<void> | undefined;
  /** Resolves at the forwarder's exit (its pipes may close later: `#forwarderExit`). */
  #forwarderGone: Promise<void> | undefined;
  #forwarderExited = false;
  #closed = false;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Makes the private directory the broker socket will be in; `owner` is the host
   * uid/gid the forwarder runs as (the sandbox's). Nothing listens yet (`bind`).
   */
  static async prepare(params: {
    ownerId: string;
    executionId: string;
    owner: { uid: number; gid: number } | undefined;
  }): Promise<SandboxEgress> {
    // Named like the advisory directories, so the owner's leftover scan and reaper see it.
    const dir = await mkdtemp(join(tmpdir(), `${advisoryDirPrefix(params.ownerId)}egress-${params.executionId}-`));
    try {
      // Only the forwarder's uid may reach the socket: nothing else on the host borrows the sandbox's allow-list.
      if (params.owner) await chown(dir, params.owner.uid, params.owner.gid);
      return new SandboxEgress(dir);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get #socketPath(): string {
    return join(this.#dir, 'broker.sock');
  }

  /**
   * Opens the one execution's broker session on the socket the forwarder dials: from now
   * on its connections are judged by `policy` and recorded in `audit`. Once only.
   * @throws Error when already bound or closed; EgressListenError when the socket cannot be bound.
   */
  async bind(params: { policy: AllowNetworkPolicy | { readonly mode: 'none' }; audit: EgressAuditLog }): Promise<void> {
    if (this.#closed) throw new Error('the egress session is closed');
    if (this.#audit) throw new Error('the egress session is bound once');
    this.#audit = params.audit;
    this.#session = await EgressSession.listen({
      socketPath: this.#socketPath,
      policy: params.policy,
      audit: params.audit,
    });
  }

  /** False once the forwarder (when started) has exited: a pool member without one must not be handed out. */
  get forwarderAlive(): boolean {
    return this.#forwarder !== undefined && !this.#forwarderExited && !this.#closed;
  }

  /** Resolves when the forwarder has exited (never, before `attach`). */
  get forwarderEnded(): Promise<void> {
    return this.#forwarderGone ?? new Promise(() => undefined);
  }

  /**
   * Routes the sandbox's namespace to the forwarder and starts it (egress-netns.ts);
   * resolves once it listens. Called while the runner waits for its job (in a pool
   * member's start, before any session is bound).
   * @throws Error with the setup's stderr when the namespace cannot be prepared.
   */
  async attach(params: {
    scope: ForwarderScope;
    runnerPid: number;
    tools: EgressTools;
    perl: string;
    marker: string;
    user: { uid: number; gid: number } | undefined;
  }): Promise<number> {
    const { command, args } = forwarderCommand({
      scope: params.scope,
      tools: params.tools,
      runnerPid: params.runnerPid,
      perl: params.perl,
      forwarderSource: FORWARDER_SOURCE,
      brokerSocket: this.#socketPath,
      marker: params.marker,
      user: params.user,
    });
    // Tagged like the sandbox's own processes, so the owner's leftover scan finds it.
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CORDON_SPAWN_OWNER: params.marker },
    });
    this.#forwarder = child;
    this.#forwarderExit = new Promise((resolve) => child.on('close', () => resolve()));
    this.#forwarderGone = new Promise((resolve) =>
      child.once('exit', () => {
        this.#forwarderExited = true;
        resolve();
      }),
    );
    const streams = child.stdio as unknown as (Readable & Writable)[];
    for (const stream of streams) stream?.on('error', () => undefined);
    streams[3]!.end(IPV4_RULES);
    streams[4]!.end(IPV6_RULES);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_FORWARDER_STDERR) stderr += chunk.toString('utf8');
    });
    await new Promise<void>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => fail(`not ready after ${FORWARDER_READY_MS} ms`), FORWARDER_READY_MS);
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`the egress forwarder could not start: ${why}${stderr.trim() ? ` (${stderr.trim()})` : ''}`));
      };
      child.on('error', (error) => fail(error.message));
      const exited = (code: number | null, signal: NodeJS.Signals | null) => fail(`it exited with ${code ?? signal}`);
      child.on('exit', exited);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if (stdout.includes('ready\n')) {
          clearTimeout(timer);
          child.off('exit', exited);
          resolve();
        }
      });
    });
    return child.pid!;
  }

  /** Stops the forwarder and the session (ending every relayed connection); idempotent. The audit, once bound. */
  async close(): Promise<EgressAudit | undefined> {
    if (!this.#closed) {
      this.#closed = true;
      // Its stdin closing ends it; SIGKILL in case it is stuck.
      this.#forwarder?.stdin?.end();
      this.#forwarder?.kill('SIGKILL');
      // Bounded like a sandbox's close: pipes something else holds must not hang the run.
      if (this.#forwarder && this.#forwarderExit)
        await boundCloseAfterKill({
          what: `egress forwarder pid ${this.#forwarder.pid ?? 'none'}`,
          closed: this.#forwarderExit,
          streams: this.#forwarder.stdio,
        });
      await this.#session?.close();
      await rm(this.#dir, { recursive: true, force: true });
    }
    return this.#audit?.snapshot();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
