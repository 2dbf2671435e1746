import type { RunOutput, SuiteContext } from '../../context.js';
import type { ConformanceResult, RunRecord } from '../../types.js';
import { networkVerdict, type SideObservation } from '../../verdict.js';
import type { NetworkProbe } from './probe.js';

/** How long a control's nonce may take to show up in a canary's log after the run ends. */
const CONTROL_GRACE_MS = 1_500;
/** Extra wait for a probe's nonce; its bytes are already in the host kernel when the run ends. */
const PROBE_GRACE_MS = 300;

/**
 * Runs one network probe and its positive control, each with its own nonce,
 * and judges them from the canaries' log (see `networkVerdict`).
 */
export async function runNetworkProbe(context: SuiteContext, probe: NetworkProbe): Promise<ConformanceResult> {
  const base = {
    id: probe.id,
    group: probe.group,
    kind: 'network' as const,
    title: probe.title,
    language: probe.language,
  };
  const applicability = {
    endpoints: context.endpoints,
    network: context.adapter.canaryNetwork,
    icmpUnavailable: context.canaries.icmpUnavailable,
  };
  if (!context.offers(probe.language)) {
    return { ...base, verdict: 'not-applicable', detail: `the backend does not offer ${probe.language}` };
  }
  const declared = context.adapter.notApplicable?.[probe.id] ?? context.adapter.notApplicable?.[probe.group];
  if (declared !== undefined)
    return { ...base, verdict: 'not-applicable', detail: `declared by the backend: ${declared}` };
  // The probe's own rule; when its target exists anyway (host loopback, system resolver) it still runs, so a leak is reported.
  const notApplicable = probe.notApplicable?.(applicability);
  if (notApplicable !== undefined && !probe.runWhenNotApplicable) {
    return { ...base, verdict: 'not-applicable', detail: notApplicable };
  }

  const prepared = probe.files ? await probe.files() : { files: {} };
  if ('unavailable' in prepared) return { ...base, verdict: 'not-applicable', detail: prepared.unavailable };
  const files = prepared.files;

  const controlOn = notApplicable !== undefined ? 'none' : (probe.controlOn ?? 'sandbox');
  let control: RunOutput | undefined;
  let controlDeliveries: string[] = [];
  if (controlOn !== 'none') {
    const nonce = context.nonce();
    const code = probe.code(context.endpoints, nonce);
    control =
      controlOn === 'host'
        ? await context.runHost(probe.language, code, nonce)
        : await context.run('control', { language: probe.language, code, files }, nonce);
    controlDeliveries = await deliveries(context, probe, control, nonce, CONTROL_GRACE_MS);
  }

  const nonce = context.nonce();
  const probeRun = await context.run(
    'sandbox',
    { language: probe.language, code: probe.code(context.endpoints, nonce), files },
    nonce,
  );
  const probeDeliveries = await deliveries(context, probe, probeRun, nonce, PROBE_GRACE_MS);

  const judgement = networkVerdict({
    networkEnforcement: context.networkEnforcement,
    patchable: probe.patchable ?? false,
    judge: probe.judge ?? 'canary',
    ...(notApplicable !== undefined ? { notApplicable } : {}),
    probe: observe(probeRun, probeDeliveries),
    ...(control ? { control: observe(control, controlDeliveries) } : {}),
  });
  const probeRecord = withDeliveries(probeRun.record, probeDeliveries);
  const controlRecord = control ? withDeliveries(control.record, controlDeliveries) : undefined;
  return {
    ...base,
    verdict: judgement.verdict,
    detail: describe(judgement.reason, probeRecord, controlRecord, probeRun.output.facts),
    probe: probeRecord,
    ...(controlRecord ? { control: controlRecord } : {}),
  };
}

async function deliveries(
  context: SuiteContext,
  probe: NetworkProbe,
  run: RunOutput,
  nonce: string,
  graceMs: number,
): Promise<string[]> {
  if ((probe.judge ?? 'canary') === 'output') return run.output.reached ? ['its own report'] : [];
  return context.canaries.log.waitFor(nonce, graceMs);
}

function observe(run: RunOutput, delivered: string[]): SideObservation {
  return {
    delivered: delivered.length > 0,
    missingTools: run.output.missingTools,
    denied: run.output.denied,
    ...(run.output.unsupported !== undefined ? { unsupported: run.output.unsupported } : {}),
    ...(run.record.error !== undefined ? { error: run.record.error } : {}),
  };
}

function withDeliveries(record: RunRecord, delivered: string[]): RunRecord {
  return { ...record, delivered: delivered.length > 0, ...(delivered.length > 0 ? { deliveredTo: delivered } : {}) };
}

/** One line: the reason, the errors seen inside (which layer blocked), and where a nonce arrived. */
function describe(
  reason: string,
  probe: RunRecord,
  control: RunRecord | undefined,
  facts: Record<string, string>,
): string {
  const parts = [reason];
  if (probe.deliveredTo) parts.push(`nonce reached ${probe.deliveredTo.join(', ')}`);
  const failed = probe.steps.filter((step) => !step.endsWith(': ok'));
  if (probe.steps.length > 0) parts.push(`inside: ${(failed.length > 0 ? failed : probe.steps).join('; ')}`);
  else if (probe.stderrTail) parts.push(`stderr: ${probe.stderrTail.split('\n').pop() ?? ''}`);
  for (const [key, value] of Object.entries(facts)) parts.push(`${key}=${value}`);
  if (control && !control.delivered && control.steps.length > 0)
    parts.push(`control (${control.where}): ${control.steps.join('; ')}`);
  else if (control && !control.delivered && control.stderrTail)
    parts.push(`control stderr: ${control.stderrTail.split('\n').pop() ?? ''}`);
  return parts.join(' | ');
}
