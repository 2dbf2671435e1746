import type { CommandOutcome } from './run-command.js';
import type { Scenario } from './scenarios.js';

/** One timed run: wall milliseconds, and whether it did what the scenario expects. */
export interface Sample {
  ms: number;
  ok: boolean;
  /** Why a failed sample failed (status, stderr, error message). */
  problem?: string;
}

/** Anything the harness can time: a bare host command, a Docker baseline, or a backend in one mode. */
export interface Participant {
  /** `host-node`, `docker-run`, `spawn/cold`, `docker/pooled`, ... */
  readonly key: string;
  readonly role: 'baseline' | 'candidate';
  /** Least pause after a sample before the next one starts (e.g. a pool refilling). */
  readonly settleMs: number;
  /** Takes a sample only every N-th round (slow backends such as k8s keep the run short). */
  readonly sampleEvery: number;
  supports(scenario: Scenario): boolean;
  runOnce(scenario: Scenario): Promise<Sample>;
  /** Set once the participant cannot be measured any more (e.g. an execution never returned); it is then left out. */
  readonly broken?: string | undefined;
}

export function checkOutput(scenario: Scenario, stdout: string, detail: string): Sample['problem'] {
  if (stdout === scenario.expectedStdout) return undefined;
  return `unexpected stdout ${JSON.stringify(stdout.slice(0, 120))} (${detail})`;
}

/** A bare command's run as a sample: it must exit 0 and print what the scenario expects. */
export function commandSample(scenario: Scenario, outcome: CommandOutcome): Sample {
  const problem =
    outcome.error ??
    (outcome.exitCode === 0
      ? checkOutput(scenario, outcome.stdout, outcome.stderr.trim())
      : `exit ${outcome.exitCode}: ${outcome.stderr.trim().slice(0, 200)}`);
  return problem === undefined ? { ms: outcome.ms, ok: true } : { ms: outcome.ms, ok: false, problem };
}

/** A baseline that spawns a bare command once per sample (host interpreters, node in bwrap, `docker run`). */
export function commandBaseline(
  key: string,
  supports: (scenario: Scenario) => boolean,
  run: (scenario: Scenario) => Promise<CommandOutcome>,
): Participant {
  return {
    key,
    role: 'baseline',
    settleMs: 0,
    sampleEvery: 1,
    supports,
    async runOnce(scenario): Promise<Sample> {
      return commandSample(scenario, await run(scenario));
    },
  };
}
