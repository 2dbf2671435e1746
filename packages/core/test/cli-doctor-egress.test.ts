import { describe, expect, it } from 'vitest';
import type { BackendCapabilities } from '../src/capabilities.js';
import { egressFromCapabilities, egressLines, inspectEgress } from '../src/cli/doctor-egress.js';
import type { Executor } from '../src/executor.js';
import { exited, ScriptedExecutor } from './support/scripted-executor.js';

const SPAWN_LIKE_EGRESS = {
  capture: 'all-tcp',
  observes: ['dns', 'proxy-connect', 'proxy-http', 'socks', 'captured'],
  dnsUnderNone: false,
  notes: ['the network namespace keeps only lo'],
} as const;

/** Capabilities with `egress` as a backend reports it. */
function withEgress(egress: BackendCapabilities['egress'], notes?: string[]): Partial<BackendCapabilities> {
  return { ...(notes ? { notes } : {}), ...(egress ? { egress } : {}) };
}

function executorWith(capabilities: Partial<BackendCapabilities>): ScriptedExecutor {
  return new ScriptedExecutor(() => Promise.resolve(exited(0)), { capabilities });
}

describe("cordon doctor's egress line", () => {
  it('says enforced, how connections are captured and which paths the audit observes, then the notes', () => {
    const egress = egressFromCapabilities(executorWith(withEgress(SPAWN_LIKE_EGRESS)).capabilities());
    expect(egressLines(egress)).toEqual([
      'egress allow-lists: enforced (capture all-tcp; observes dns, proxy-connect, proxy-http, socks, captured)',
      '  the network namespace keeps only lo',
    ]);
    const dns = egressFromCapabilities(
      executorWith(
        withEgress({ capture: 'proxy-only', observes: ['dns', 'proxy-connect'], dnsUnderNone: true }),
      ).capabilities(),
    );
    expect(egressLines(dns)).toEqual([
      'egress allow-lists: enforced (capture proxy-only; observes dns, proxy-connect; DNS audited under network none too)',
    ]);
  });

  it('says refused when capabilities().egress is absent, with the notes that say why', () => {
    const plain = egressFromCapabilities(executorWith({}).capabilities());
    expect(egressLines(plain)).toEqual(['egress allow-lists: refused (not supported by this backend)']);
    const why = egressFromCapabilities(
      executorWith({
        notes: ['bubblewrap 0.8.0', 'egress allow-lists are refused: nft is not installed'],
      }).capabilities(),
    );
    expect(egressLines(why)).toEqual([
      'egress allow-lists: refused (not supported by this backend)',
      '  egress allow-lists are refused: nft is not installed',
    ]);
  });
});

describe('inspectEgress', () => {
  it('reads a fresh executor without a pool, and closes it', async () => {
    const made: ScriptedExecutor[] = [];
    const seen: Record<string, unknown>[] = [];
    const egress = await inspectEgress({
      backend: {
        create: (options) => {
          seen.push(options);
          const executor = executorWith(withEgress(SPAWN_LIKE_EGRESS));
          made.push(executor);
          return Promise.resolve(executor);
        },
      },
      options: { isolation: 'kernel' },
    });
    expect(egress).toMatchObject({ status: 'enforced', capture: 'all-tcp' });
    expect(seen).toEqual([{ isolation: 'kernel', poolSize: 0 }]);
    expect(made[0]!.disposed).toBe(1);
  });

  it('says unknown, with the reason, when no executor can be made', async () => {
    const failed = await inspectEgress({
      backend: { create: () => Promise.reject(new Error('docker daemon is not running')) },
      options: {},
    });
    expect(egressLines(failed)).toEqual([
      'egress allow-lists: unknown (could not create an executor: docker daemon is not running)',
    ]);
  });

  it('gives up on an executor that takes too long, and closes it once it comes', async () => {
    let finish: (executor: Executor) => void = () => undefined;
    const slow = new Promise<Executor>((resolve) => (finish = resolve));
    const egress = await inspectEgress({ backend: { create: () => slow }, options: {}, timeoutMs: 20 });
    expect(egress).toEqual({ status: 'unknown', detail: 'no executor within 20 ms' });
    const late = executorWith({});
    finish(late);
    await expect.poll(() => late.disposed).toBe(1);
  });
});
