import type { RunOutput, SuiteContext } from '../../context.js';
import type { ConformanceResult, RunRecord } from '../../types.js';
import { propertyVerdict, type PropertyObservation } from '../../verdict.js';
import type { Language } from '../../../request.js';

/** What a property check hands back for one result; the runner adds id, title and kind. */
export interface PropertyOutcome {
  /** Defaults to the property's own id; set for checks that yield several results. */
  readonly id?: string;
  readonly title?: string;
  /** Defaults to the property's language. */
  readonly language?: Language;
  readonly observation: PropertyObservation;
  readonly probe?: RunRecord;
  readonly control?: RunRecord;
}

/**
 * A non-network property (escape-probes.md "Non-network properties"). It runs
 * one or more executions, checks the host where that is the only truth (files,
 * processes, signals received), and reports `holds` or `FAILS` per outcome.
 */
export interface PropertyProbe {
  readonly id: string;
  readonly title: string;
  /** The runtime it is written in by preference. */
  readonly language: Language;
  /** Runtimes it can also be written in, used when the backend does not offer `language`. */
  readonly fallbacks?: readonly Language[];
  /** Ids of the extra results it yields, for `only` filtering and documentation. */
  readonly yields?: readonly string[];
  check(context: SuiteContext, language: Language): Promise<PropertyOutcome[]>;
}

export async function runPropertyProbe(context: SuiteContext, property: PropertyProbe): Promise<ConformanceResult[]> {
  const candidates = [property.language, ...(property.fallbacks ?? [])];
  const language = candidates.find((candidate) => context.offers(candidate));
  const base = { group: property.id, kind: 'property' as const, language: language ?? property.language };
  const ids = [property.id, ...(property.yields ?? [])];
  if (language === undefined) {
    return ids.map((id) => ({
      ...base,
      id,
      title: property.title,
      verdict: 'not-applicable' as const,
      detail: `the backend offers none of ${candidates.join(', ')}`,
    }));
  }
  const declared = (id: string) => {
    const reason = context.declaredNotApplicable(id);
    return reason === undefined ? undefined : `declared by the backend: ${reason}`;
  };
  // Declared for every result: nothing is run (checks that yield several skip the declared ones themselves).
  if (ids.every((id) => declared(id) !== undefined)) {
    return ids.map((id) => ({
      ...base,
      id,
      title: property.title,
      verdict: 'not-applicable' as const,
      detail: declared(id) ?? '',
    }));
  }
  let outcomes: PropertyOutcome[];
  try {
    outcomes = await property.check(context, language);
  } catch (error) {
    outcomes = [
      {
        observation: {
          holds: false,
          reason: '',
          error: `the check itself failed: ${error instanceof Error ? error.message : String(error)}`,
        },
      },
    ];
  }
  return outcomes.map((outcome) => {
    const id = outcome.id ?? property.id;
    const reason = declared(id);
    const observation = reason === undefined ? outcome.observation : { ...outcome.observation, notApplicable: reason };
    const judgement = propertyVerdict(observation);
    // A FAILS does not depend on the control, but a control that did not work is still worth saying.
    const controlFailed =
      observation.controlOk === false && judgement.verdict !== 'invalid' && judgement.verdict !== 'not-applicable';
    return {
      ...base,
      id,
      title: outcome.title ?? property.title,
      language: outcome.language ?? language,
      verdict: judgement.verdict,
      detail: controlFailed
        ? `${judgement.reason}; the positive control did not work either: ${observation.controlReason ?? 'no detail'}`
        : judgement.reason,
      ...(observation.controlOk !== undefined && observation.notApplicable === undefined
        ? { controlOk: observation.controlOk }
        : {}),
      ...(outcome.probe ? { probe: outcome.probe } : {}),
      ...(outcome.control ? { control: outcome.control } : {}),
    };
  });
}

/**
 * For a check that yields several results: the outcome of result `id` when it is
 * not to be run (declared not applicable, or not asked for: then it is filtered
 * out of the report anyway), else undefined.
 */
export function skippedOutcome(
  context: SuiteContext,
  property: Pick<PropertyProbe, 'id'>,
  id: string,
): PropertyOutcome | undefined {
  const declared = context.declaredNotApplicable(id);
  if (declared !== undefined)
    return { id, observation: { holds: true, reason: '', notApplicable: `declared by the backend: ${declared}` } };
  if (!context.wants(id, property.id))
    return { id, observation: { holds: true, reason: '', notApplicable: 'not asked for' } };
  return undefined;
}

/** The observation for a run that threw or did not produce the expected output at all. */
export function unusable(run: RunOutput, expectedFact?: string): string | undefined {
  if (run.record.error !== undefined) return `the run could not be made: ${run.record.error}`;
  if (run.output.missingTools.length > 0) return `tool missing: ${run.output.missingTools.join(', ')}`;
  if (expectedFact !== undefined && run.output.facts[expectedFact] === undefined) {
    return `the probe did not report ${expectedFact} (status ${run.record.status}${run.record.stderrTail ? `, stderr: ${run.record.stderrTail}` : ''})`;
  }
  return undefined;
}
