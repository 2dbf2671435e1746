import { describe, expect, it } from 'vitest';
import { conformanceExitCode, formatConformanceTable, summarize } from '../src/conformance/report.js';
import type { ConformanceReport, ConformanceResult } from '../src/conformance/types.js';
import {
  networkVerdict,
  propertyVerdict,
  type NetworkObservation,
  type SideObservation,
} from '../src/conformance/verdict.js';
import { normalizeErrorCode, parseProbeOutput } from '../src/conformance/probes/output.js';

const side = (overrides: Partial<SideObservation> = {}): SideObservation => ({
  delivered: false,
  missingTools: [],
  ...overrides,
});
const observe = (overrides: Partial<NetworkObservation> = {}): NetworkObservation => ({
  networkEnforcement: 'kernel',
  patchable: false,
  judge: 'canary',
  probe: side(),
  control: side({ delivered: true }),
  ...overrides,
});

describe('networkVerdict', () => {
  it('is blocked only when the control delivered and the probe did not', () => {
    expect(networkVerdict(observe()).verdict).toBe('blocked');
    expect(networkVerdict(observe({ control: side({ delivered: false }) })).verdict).toBe('invalid');
  });

  it('calls any delivery a LEAK, whatever the control did or what the backend declared', () => {
    expect(networkVerdict(observe({ probe: side({ delivered: true }) })).verdict).toBe('LEAK');
    expect(
      networkVerdict(observe({ probe: side({ delivered: true }), control: side({ delivered: false }) })).verdict,
    ).toBe('LEAK');
    expect(
      networkVerdict(observe({ probe: side({ delivered: true }), notApplicable: 'no control here' })).verdict,
    ).toBe('LEAK');
  });

  it('under advisory isolation: a leak patching cannot stop is not-enforced, one it claims to stop is still a LEAK', () => {
    expect(networkVerdict(observe({ networkEnforcement: 'advisory', probe: side({ delivered: true }) })).verdict).toBe(
      'not-enforced',
    );
    expect(
      networkVerdict(observe({ networkEnforcement: 'advisory', patchable: true, probe: side({ delivered: true }) }))
        .verdict,
    ).toBe('LEAK');
    expect(networkVerdict(observe({ networkEnforcement: 'advisory' })).verdict).toBe('blocked');
  });

  it('makes a missing tool invalid, never blocked, in the sandbox or in the control', () => {
    expect(networkVerdict(observe({ probe: side({ missingTools: ['curl'] }) }))).toEqual({
      verdict: 'invalid',
      reason: 'tool missing: curl (sandbox)',
    });
    expect(networkVerdict(observe({ control: side({ delivered: true, missingTools: ['nc'] }) })).verdict).toBe(
      'invalid',
    );
  });

  it('is not-applicable when the backend says so, or the runtime lacks the API on both sides', () => {
    expect(networkVerdict(observe({ notApplicable: 'no IPv6' }))).toEqual({
      verdict: 'not-applicable',
      reason: 'no IPv6',
    });
    expect(
      networkVerdict(
        observe({ probe: side({ unsupported: 'no WebSocket' }), control: side({ unsupported: 'no WebSocket' }) }),
      ).verdict,
    ).toBe('not-applicable');
    expect(networkVerdict(observe({ control: side({ unsupported: 'no daemon listens' }) }))).toEqual({
      verdict: 'not-applicable',
      reason: 'no control possible: no daemon listens',
    });
    // Only the sandbox lacks it while the control delivered: the sandbox blocked it.
    expect(networkVerdict(observe({ probe: side({ unsupported: 'EACCES' }) })).verdict).toBe('blocked');
  });

  it('is invalid when the probe or control threw', () => {
    expect(networkVerdict(observe({ probe: side({ error: 'refused' }) })).verdict).toBe('invalid');
    expect(networkVerdict(observe({ control: side({ error: 'daemon down' }) })).verdict).toBe('invalid');
  });

  it('judges control-less probes by a kernel denial', () => {
    const { control: _control, ...noControl } = observe();
    expect(networkVerdict({ ...noControl, judge: 'output', probe: side({ denied: true }) }).verdict).toBe('blocked');
    expect(networkVerdict({ ...noControl, judge: 'output', probe: side() }).verdict).toBe('invalid');
    expect(networkVerdict({ ...noControl, judge: 'output', probe: side({ delivered: true }) }).verdict).toBe('LEAK');
  });
});

describe('propertyVerdict', () => {
  it('holds, fails, and needs its control', () => {
    expect(propertyVerdict({ holds: true, reason: 'ok' }).verdict).toBe('holds');
    expect(propertyVerdict({ holds: false, reason: 'seen' }).verdict).toBe('FAILS');
    expect(propertyVerdict({ holds: true, reason: 'ok', controlOk: false }).verdict).toBe('invalid');
    // A failure is a failure even when the control also failed.
    expect(propertyVerdict({ holds: false, reason: 'seen', controlOk: false }).verdict).toBe('FAILS');
  });

  it('is not-enforced for a limit the backend declares weak, and invalid when the run failed', () => {
    expect(propertyVerdict({ holds: false, reason: 'status ok', weakEnforcement: 'rlimit' }).verdict).toBe(
      'not-enforced',
    );
    expect(propertyVerdict({ holds: true, reason: 'ok', weakEnforcement: 'rlimit' }).verdict).toBe('not-enforced');
    expect(propertyVerdict({ holds: true, reason: '', error: 'threw' }).verdict).toBe('invalid');
    expect(propertyVerdict({ holds: true, reason: '', notApplicable: 'no node' }).verdict).toBe('not-applicable');
  });
});

describe('probe output', () => {
  it('parses steps, missing tools, unsupported APIs and facts', () => {
    const output = parseProbeOutput(
      [
        'noise',
        'CORDON-PROBE {"step":"connect","ok":false,"code":"ECONNREFUSED"}',
        'CORDON-PROBE {"step":"curl","ok":false,"code":"exit 7","message":"curl: (7) Failed to connect: Network is unreachable"}',
        'CORDON-PROBE {"step":"setns","ok":false,"code":"EPERM"}',
        'CORDON-PROBE {"step":"list","ok":true,"reached":true}',
        'CORDON-TOOL-MISSING nc',
        'CORDON-UNSUPPORTED no WebSocket',
        'CORDON-FACT interfaces=lo only',
        'CORDON-PROBE {not json',
      ].join('\n'),
    );
    expect(output.steps).toEqual(['connect: ECONNREFUSED', 'curl: ENETUNREACH', 'setns: EPERM', 'list: ok']);
    expect(output).toMatchObject({
      missingTools: ['nc'],
      unsupported: 'no WebSocket',
      reached: true,
      denied: true,
      facts: { interfaces: 'lo only' },
    });
  });

  it('maps tool messages to errno names', () => {
    expect(normalizeErrorCode('exit 6', 'curl: (6) Could not resolve host: x')).toBe('EAI_AGAIN');
    expect(normalizeErrorCode('exit 1', 'bash: connect: Connection refused')).toBe('ECONNREFUSED');
    expect(normalizeErrorCode('EPERM')).toBe('EPERM');
    expect(normalizeErrorCode('exit 2', 'something odd')).toBe('exit 2');
  });
});

describe('report', () => {
  const result = (id: string, verdict: ConformanceResult['verdict']): ConformanceResult => ({
    id,
    group: id.split(':')[0] ?? id,
    kind: 'network',
    title: id,
    language: 'node',
    verdict,
    detail: `detail of ${id}`,
  });
  const report = (results: ConformanceResult[]): ConformanceReport => ({
    backend: 'x',
    networkEnforcement: 'kernel',
    startedAt: '',
    durationMs: 1,
    results,
    summary: summarize(results),
  });

  it('exits non-zero on LEAK, FAILS, invalid or not-enforced only', () => {
    expect(
      conformanceExitCode(report([result('a', 'blocked'), result('b', 'holds'), result('c', 'not-applicable')])),
    ).toBe(0);
    for (const verdict of ['LEAK', 'FAILS', 'invalid', 'not-enforced'] as const) {
      expect(conformanceExitCode(report([result('a', 'blocked'), result('b', verdict)])), verdict).toBe(1);
    }
  });

  it('prints every result and the summary in the table', () => {
    const table = formatConformanceTable(report([result('N1:http', 'blocked'), result('S1:curl', 'LEAK')]), {
      width: 100,
    });
    expect(table).toMatch(/N1:http\s+node\s+blocked\s+detail of N1:http/);
    expect(table).toMatch(/FAIL: 1 blocked, 1 LEAK/);
  });
});
