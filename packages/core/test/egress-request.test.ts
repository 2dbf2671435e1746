import { describe, expect, it } from 'vitest';
import type { BackendCapabilities } from '../src/capabilities.js';
import { InvalidRequestError, IsolationRefusedError } from '../src/errors.js';
import { closedNetworkMode, normalizeNetwork } from '../src/network.js';
import { parseExecutionRequest } from '../src/request.js';
import { resultToJson, type ExecutionResult } from '../src/result.js';
import { exited, ScriptedExecutor } from './support/scripted-executor.js';

const hello = { language: 'node', code: 'console.log(1)' } as const;
const allow = { mode: 'allow', allow: ['api.example.test', '10.0.0.0/8:5432'] } as const;

function invalid(input: unknown): InvalidRequestError {
  try {
    parseExecutionRequest(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return error as InvalidRequestError;
  }
  throw new Error('expected an InvalidRequestError');
}

const EGRESS: NonNullable<BackendCapabilities['egress']> = {
  capture: 'all-tcp',
  observes: ['dns', 'proxy-connect', 'captured'],
  dnsUnderNone: false,
};

describe('requests with an egress allow-list', () => {
  it('parses the allow form into the policy backends receive', () => {
    const request = parseExecutionRequest({ ...hello, network: allow });
    expect(request.network).toMatchObject({
      mode: 'allow',
      rules: [
        { kind: 'name', name: 'api.example.test', source: 'api.example.test' },
        { kind: 'cidr', cidr: '10.0.0.0/8', ports: [{ from: 5432, to: 5432 }] },
      ],
    });
    expect(normalizeNetwork(allow)).toEqual(request.network);
  });

  it('keeps the other forms', () => {
    expect(parseExecutionRequest(hello).network).toEqual({ mode: 'none' });
    expect(parseExecutionRequest({ ...hello, network: 'open' }).network).toEqual({ mode: 'open' });
    expect(parseExecutionRequest({ ...hello, network: { mode: 'none' } }).network).toEqual({ mode: 'none' });
    expect(parseExecutionRequest({ ...hello, network: { mode: 'open' } }).network).toEqual({ mode: 'open' });
  });

  it.each<[unknown, string, unknown]>([
    [{ mode: 'allow', allow: ['ok.example.test', '*.com'] }, 'network.allow[1]', '*.com'],
    [{ mode: 'allow', allow: ['api.example.com:70000'] }, 'network.allow[0]', 'api.example.com:70000'],
    [{ mode: 'allow', allow: [] }, 'network.allow', []],
    [{ mode: 'allow', allow: ['a.example.test'], caps: { maxBytes: -1 } }, 'network.caps.maxBytes', -1],
    [
      { mode: 'allow', allow: ['a.example.test'], resolve: { 'a.example.test': 'x' } },
      'network.resolve.a.example.test',
      'x',
    ],
    [{ mode: 'open', allow: ['a.example.test'] }, 'network.allow', ['a.example.test']],
    [{ mode: 'bridge' }, 'network', { mode: 'bridge' }],
    [{ allow: ['a.example.test'] }, 'network', { allow: ['a.example.test'] }],
    ['allow', 'network', 'allow'],
    [null, 'network', null],
  ])('%j is refused naming %s', (network, field, value) => {
    const error = invalid({ ...hello, network });
    expect(error.field).toBe(field);
    expect(error.value).toEqual(value);
    expect(error.message).toContain(field);
  });

  it('closedNetworkMode is the backstop a backend without egress enforcement calls', () => {
    expect(closedNetworkMode('b', { mode: 'none' })).toBe('none');
    expect(closedNetworkMode('b', { mode: 'open' })).toBe('open');
    expect(() => closedNetworkMode('b', normalizeNetwork(allow))).toThrow(IsolationRefusedError);
  });
});

describe('a backend without egress capabilities', () => {
  it('refuses an allow-list (fail closed) and runs nothing', async () => {
    let runs = 0;
    await using executor = new ScriptedExecutor(() => {
      runs++;
      return Promise.resolve(exited(0));
    });
    const error = await executor.execute({ ...hello, network: allow }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IsolationRefusedError);
    expect(error).toMatchObject({ guarantee: 'network', backend: 'scripted' });
    expect((error as Error).message).toMatch(/allow-list/);
    expect(runs).toBe(0);
  });

  it("with acceptUnenforced ['network'] runs it as 'none' and says so", async () => {
    const seen: string[] = [];
    await using executor = new ScriptedExecutor((context) => {
      seen.push(context.request.network.mode);
      return Promise.resolve(exited(0));
    });
    const result = await executor.execute({ ...hello, network: allow, acceptUnenforced: ['network'] });
    expect(seen).toEqual(['none']);
    expect(result.status).toBe('ok');
    expect(result.warnings).toContain(
      "allow-list not enforced by scripted: ran with network 'none', nothing was reachable",
    );
  });

  it('an unrelated waiver does not buy the downgrade', async () => {
    await using executor = new ScriptedExecutor(() => Promise.resolve(exited(0)));
    await expect(
      executor.execute({ ...hello, network: allow, acceptUnenforced: ['memoryBytes'] }),
    ).rejects.toBeInstanceOf(IsolationRefusedError);
  });

  it('a backend that declares egress gets the policy itself', async () => {
    const seen: unknown[] = [];
    await using executor = new ScriptedExecutor(
      (context) => {
        seen.push(context.request.network);
        return Promise.resolve(exited(0));
      },
      { capabilities: { egress: EGRESS } },
    );
    const result = await executor.execute({ ...hello, network: allow });
    expect(seen).toEqual([normalizeNetwork(allow)]);
    expect(result.warnings).toEqual([]);
  });
});

describe('the egress audit on a result', () => {
  it("is the backend's audit, copied from its run outcome; absent when it reports none", async () => {
    const audit = { records: [], dropped: 3 };
    await using executor = new ScriptedExecutor(() => Promise.resolve({ ...exited(0), egress: audit }), {
      capabilities: { egress: EGRESS },
    });
    expect((await executor.execute({ ...hello, network: allow })).egress).toEqual(audit);
    await using plain = new ScriptedExecutor(() => Promise.resolve(exited(0)));
    expect(await plain.execute(hello)).not.toHaveProperty('egress');
  });

  it('is carried by resultToJson', () => {
    const result: ExecutionResult = {
      id: 'x',
      status: 'ok',
      exitCode: 0,
      signal: null,
      stdout: '',
      stderr: '',
      stdoutTruncated: false,
      stderrTruncated: false,
      files: [],
      filesTruncated: false,
      durationMs: 1,
      queuedMs: 0,
      backend: 'b',
      warnings: [],
      egress: {
        records: [
          {
            at: '2026-01-01T00:00:00.000Z',
            path: 'dns',
            host: 'evil.test',
            kind: 'A',
            verdict: 'denied',
            reason: 'evil.test is not on the allow-list',
            bytesUp: 0,
            bytesDown: 0,
            durationMs: 0,
          },
        ],
        dropped: 2,
      },
    };
    const json = JSON.parse(JSON.stringify(resultToJson(result))) as Record<string, unknown>;
    expect(json.egress).toEqual(result.egress);
  });
});
