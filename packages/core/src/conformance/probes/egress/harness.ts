import type { RunOutput, SuiteContext } from '../../context.js';
import type { ConformanceResult } from '../../types.js';
import { networkVerdict, type SideObservation } from '../../verdict.js';
import type { EgressRecord } from '../../../egress/audit.js';
import type { ExecutionRequest, Language } from '../../../request.js';

/** Test names live under this zone; the policy's resolve override maps each to a canary, and only through it. */
export const EGRESS_ZONE = 'egress.cordon.test';
/** How long a canary may take to log a delivery after the run returns. */
export const DELIVERY_WAIT_MS = 1_500;

export type AllowNetworkInput = Extract<ExecutionRequest['network'], { mode: 'allow' }>;

/** What a policy of a run looks like in a probe: the rules, and every test name it may ask for, mapped to a canary. */
export interface EgressRunSpec {
  readonly allow: readonly (string | { host: string; ports?: (number | string)[] })[];
  /** Names → `ADDRESS:PORT` (passes the deny set: a canary) or an object that keeps the deny set. */
  readonly resolve: Readonly<Record<string, string | { address: string; port?: number; denySet: 'apply' }>>;
  readonly caps?: Readonly<Record<string, number>>;
}

export function allowPolicy(spec: EgressRunSpec): AllowNetworkInput {
  return {
    mode: 'allow',
    allow: [...spec.allow],
    resolve: { ...spec.resolve },
    ...(spec.caps ? { caps: { ...spec.caps } } : {}),
  } as unknown as AllowNetworkInput;
}

/** `name.egress.cordon.test`, and the override that sends it (and the others given) to the TCP canary. */
export function testName(label: string): string {
  return `${label}.${EGRESS_ZONE}`;
}

export function toCanary(context: SuiteContext, names: readonly string[]): Record<string, string> {
  const { host, port } = context.endpoints.tcp;
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return Object.fromEntries(names.map((name) => [name, target]));
}

export function egressRecords(run: RunOutput): readonly EgressRecord[] {
  return run.result?.egress?.records ?? [];
}

/** Why the audit of a run does not show what happened, or undefined when it does. */
export function auditProblem(
  run: RunOutput,
  expect: {
    host?: string;
    address?: string;
    verdict: 'allowed' | 'denied';
    paths?: readonly string[];
    /** For allowed: exactly this many records (one per connection or plain-HTTP request the program made). */
    count?: number;
  },
): string | undefined {
  if (!run.result) return undefined;
  if (!run.result.egress) return 'the result has no egress audit';
  // A denial may come as early as the name's DNS query; an allowed attempt is a connection.
  const matching = egressRecords(run).filter(
    (record) =>
      (record.path !== 'dns' || (expect.verdict === 'denied' && expect.address === undefined)) &&
      (expect.host === undefined || record.host === expect.host || record.sni === expect.host) &&
      (expect.address === undefined || record.address === expect.address) &&
      (expect.paths === undefined || expect.paths.includes(record.path)),
  );
  const wanted = matching.filter((record) => record.verdict === expect.verdict);
  const target = expect.host ?? expect.address ?? 'the target';
  if (wanted.length === 0)
    return `the audit has no ${expect.verdict} record for ${target} (${describeRecords(egressRecords(run))})`;
  if (expect.verdict === 'allowed' && expect.count !== undefined && wanted.length !== expect.count)
    return `the audit has ${wanted.length} allowed records for ${target}, for ${expect.count} attempt(s) (${describeRecords(egressRecords(run))})`;
  if (expect.verdict === 'denied' && matching.some((record) => record.verdict === 'allowed' && record.path !== 'dns'))
    return `the audit records an allowed connection to ${target} although nothing may have reached it`;
  return undefined;
}

export function describeRecords(records: readonly EgressRecord[]): string {
  if (records.length === 0) return 'no records';
  return records
    .slice(0, 6)
    .map(
      (record) =>
        `${record.verdict} ${record.path} ${record.host ?? record.address ?? '?'}${record.port ? `:${record.port}` : ''}${record.reason ? ` (${record.reason.slice(0, 60)})` : ''}`,
    )
    .join('; ')
    .concat(records.length > 6 ? `; and ${records.length - 6} more` : '');
}

export async function side(context: SuiteContext, run: RunOutput, nonce: string): Promise<SideObservation> {
  const deliveries = await context.canaries.log.waitFor(nonce, DELIVERY_WAIT_MS);
  return {
    delivered: deliveries.length > 0,
    missingTools: run.output.missingTools,
    ...(run.output.unsupported ? { unsupported: run.output.unsupported } : {}),
    ...(run.record.error !== undefined ? { error: run.record.error } : {}),
  };
}

/**
 * One egress result from a probe run and its positive control (both under an allow-list
 * unless said otherwise): `blocked` needs the control's nonce at a canary and the
 * probe's nowhere, and then the audits must agree with the canaries, else `FAILS`.
 */
export async function egressResult(params: {
  context: SuiteContext;
  id: string;
  title: string;
  language: Language;
  probe: RunOutput;
  probeNonce: string;
  control: RunOutput;
  controlNonce: string;
  /** Checked only when the verdict is otherwise `blocked`. */
  audit?: () => string | undefined;
}): Promise<ConformanceResult> {
  const { context } = params;
  const [probe, control] = await Promise.all([
    side(context, params.probe, params.probeNonce),
    side(context, params.control, params.controlNonce),
  ]);
  const judged = networkVerdict({
    networkEnforcement: context.networkEnforcement,
    patchable: false,
    judge: 'canary',
    probe,
    control,
  });
  const auditIssue = judged.verdict === 'blocked' ? params.audit?.() : undefined;
  const steps = (run: RunOutput) => run.output.steps.join('; ');
  return {
    id: params.id,
    group: 'egress',
    kind: 'network',
    title: params.title,
    language: params.language,
    verdict: auditIssue ? 'FAILS' : judged.verdict,
    detail: auditIssue
      ? `blocked, but ${auditIssue}`
      : `${judged.reason}${steps(params.probe) ? ` | probe: ${steps(params.probe)}` : ''}${judged.verdict !== 'blocked' && steps(params.control) ? ` | control: ${steps(params.control)}` : ''}`,
    probe: { ...params.probe.record, delivered: probe.delivered },
    control: { ...params.control.record, delivered: control.delivered },
  };
}
