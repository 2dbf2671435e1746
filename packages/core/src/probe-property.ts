import type { RunOutput, SuiteContext } from './conformance-context.js';
import type { ConformanceResult, RunRecord } from './conformance-types.js';
import { propertyVerdict, type PropertyObservation } from './conformance-verdict.js';
import type { Language } from './request.js';

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
  if (language === undefined) {
    return [property.id, ...(property.yields ?? [])].map((id) => ({ ...base, id, title: property.title, verdict: 'not-applicable' as const, detail: `the backend offers none of ${candidates.join(', ')}` }));
  }
  let outcomes: PropertyOutcome[];
  try {
    outcomes = await property.check(context, language);
  } catch (error) {
    outcomes = [{ observation: { holds: false, reason: '', error: `the check itself failed: ${error instanceof Error ? error.message : String(error)}` } }];
  }
  return outcomes.map((outcome) => {
    const judgement = propertyVerdict(outcome.observation);
    return {
      ...base,
      id: outcome.id ?? property.id,
      title: outcome.title ?? property.title,
      language: outcome.language ?? language,
      verdict: judgement.verdict,
      detail: judgement.reason,
      ...(outcome.probe ? { probe: outcome.probe } : {}),
      ...(outcome.control ? { control: outcome.control } : {}),
    };
  });
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
