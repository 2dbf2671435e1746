import type { NetworkEnforcement } from '../capabilities.js';
import type { Verdict } from './types.js';

/** What one side of a network probe (the probe, or its control) showed. */
export interface SideObservation {
  /** The nonce reached a canary (or, for output-judged probes, the probe reported `reached`). */
  delivered: boolean;
  missingTools: readonly string[];
  /** The runtime lacks the API the probe uses (e.g. no global WebSocket). */
  unsupported?: string;
  /** The execution threw instead of producing a result (refused, backend failure). */
  error?: string;
  /** At least one attempt was denied with EPERM/EACCES/ESRCH-like codes (output-judged probes). */
  denied?: boolean;
}

export interface NetworkObservation {
  networkEnforcement: NetworkEnforcement;
  /** Advisory isolation claims to stop this probe (plain Node module calls). */
  patchable: boolean;
  judge: 'canary' | 'output';
  /** Set when no control is possible here; a leak still wins. */
  notApplicable?: string;
  probe: SideObservation;
  /** Undefined for probes whose only positive control is the suite's self-test. */
  control?: SideObservation;
}

export interface VerdictWithReason {
  verdict: Verdict;
  reason: string;
}

/**
 * The verdict rules, in order:
 * 1. The probe delivered its nonce: `LEAK`; under advisory isolation, `not-enforced`
 *    unless the probe is one in-process patching claims to stop (then still `LEAK`).
 * 2. The backend or the probe says no control is possible: `not-applicable`.
 * 3. The vector does not exist where the control runs (the runtime lacks the API,
 *    nothing listens), or in both runs: `not-applicable`, with the reason.
 * 4. A tool is missing (probe or control), or the probe could not run: `invalid`.
 * 5. The control did not deliver its nonce: `invalid`, never `blocked`.
 *    For probes without a control (changing interfaces, tracing), the probe must
 *    show a kernel denial instead, or it is `invalid`.
 * 6. Otherwise `blocked`.
 */
export function networkVerdict(observation: NetworkObservation): VerdictWithReason {
  const { probe, control } = observation;
  if (probe.delivered) {
    if (observation.networkEnforcement === 'advisory' && !observation.patchable) {
      return { verdict: 'not-enforced', reason: 'got out; advisory isolation cannot stop this path' };
    }
    return { verdict: 'LEAK', reason: 'got out' };
  }
  if (observation.notApplicable !== undefined) return { verdict: 'not-applicable', reason: observation.notApplicable };
  if (probe.unsupported !== undefined && (control === undefined || control.unsupported !== undefined)) {
    return { verdict: 'not-applicable', reason: probe.unsupported };
  }
  // The vector does not exist where the control runs (e.g. no daemon listening): nothing can prove the probe, and it did not get out.
  if (control?.unsupported !== undefined)
    return { verdict: 'not-applicable', reason: `no control possible: ${control.unsupported}` };
  const missing = [
    ...probe.missingTools.map((tool) => `${tool} (sandbox)`),
    ...(control?.missingTools ?? []).map((tool) => `${tool} (control)`),
  ];
  if (missing.length > 0) return { verdict: 'invalid', reason: `tool missing: ${missing.join(', ')}` };
  if (probe.error !== undefined) return { verdict: 'invalid', reason: `the probe could not run: ${probe.error}` };
  if (control === undefined) {
    if (probe.denied) return { verdict: 'blocked', reason: 'denied by the kernel' };
    return { verdict: 'invalid', reason: 'the probe neither got through nor saw a kernel denial' };
  }
  if (control.error !== undefined) return { verdict: 'invalid', reason: `the control could not run: ${control.error}` };
  if (!control.delivered)
    return { verdict: 'invalid', reason: 'the control did not deliver its nonce, so a refusal proves nothing' };
  return { verdict: 'blocked', reason: 'control delivered, probe did not' };
}

export interface PropertyObservation {
  /** The property held in the sandbox run. */
  holds: boolean;
  /** Why it failed, or what was seen. */
  reason: string;
  /** The positive control worked; undefined when the property has none. */
  controlOk?: boolean;
  controlReason?: string;
  /** The backend declares the limit this property tests as not (or weakly) enforced. */
  weakEnforcement?: string;
  /** The run could not be made (threw, wrong shape). */
  error?: string;
  /** The property cannot be checked on this backend (e.g. it lacks the runtime). */
  notApplicable?: string;
}

/** `not-applicable` when the check cannot be made; else `invalid` if the run failed; `FAILS` (or `not-enforced` for a declared-weak limit) beats a failed control; then `holds`. */
export function propertyVerdict(observation: PropertyObservation): VerdictWithReason {
  if (observation.notApplicable !== undefined) return { verdict: 'not-applicable', reason: observation.notApplicable };
  if (observation.error !== undefined) return { verdict: 'invalid', reason: observation.error };
  if (!observation.holds)
    return {
      verdict: observation.weakEnforcement !== undefined ? 'not-enforced' : 'FAILS',
      reason:
        observation.weakEnforcement !== undefined
          ? `${observation.reason}; ${observation.weakEnforcement}`
          : observation.reason,
    };
  if (observation.controlOk === false)
    return { verdict: 'invalid', reason: `the positive control failed: ${observation.controlReason ?? 'no detail'}` };
  if (observation.weakEnforcement !== undefined)
    return { verdict: 'not-enforced', reason: `held this time, but ${observation.weakEnforcement}` };
  return { verdict: 'holds', reason: observation.reason };
}
