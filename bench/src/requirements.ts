import type { ResultsFile } from './results.js';
import { EGRESS_SCENARIOS, SCENARIOS } from './results.js';

/**
 * Why each required backend did not run cleanly: skipped (whole or one mode),
 * failed runs, or a scenario with no figure. Empty when all is well.
 */
export function requirementProblems(file: ResultsFile, required: readonly string[]): string[] {
  const problems: string[] = [];
  for (const backend of required) {
    for (const skip of file.skipped.filter((entry) => entry.backend === backend)) {
      problems.push(`${backend}${skip.mode ? ` ${skip.mode}` : ''} was skipped: ${skip.reason}`);
    }
    for (const row of file.results.filter((entry) => entry.backend === backend && entry.failures > 0)) {
      problems.push(
        `${backend} ${row.mode} ${row.scenario} ${row.kind} ×${row.concurrency}: ${row.failures} failed runs`,
      );
    }
    for (const row of file.memory.filter((entry) => entry.backend === backend && entry.failures > 0)) {
      problems.push(`${backend} memory run: ${row.failures} failed runs`);
    }
    if (backend === 'spawn') {
      const missing = EGRESS_SCENARIOS.filter((scenario) => !file.egress.some((row) => row.scenario === scenario));
      if (missing.length > 0) problems.push(`spawn has no egress figure for ${missing.join(', ')}`);
      for (const row of file.egress)
        for (const entry of [row.allowList, row.baseline])
          if (entry.failures > 0)
            problems.push(`spawn egress ${row.scenario} network ${entry.network}: ${entry.failures} failed runs`);
    }
    const latency = file.results.filter((entry) => entry.backend === backend && entry.kind === 'latency');
    if (latency.length === 0) {
      if (!problems.some((problem) => problem.startsWith(`${backend} `))) problems.push(`${backend} has no figures`);
      continue;
    }
    for (const mode of new Set(latency.map((entry) => entry.mode))) {
      const missing = SCENARIOS.filter(
        (scenario) => !latency.some((entry) => entry.mode === mode && entry.scenario === scenario),
      );
      if (missing.length > 0) problems.push(`${backend} ${mode} has no latency figure for ${missing.join(', ')}`);
    }
  }
  return problems;
}
