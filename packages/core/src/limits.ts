/** The resource limits every request carries; see `ExecutionLimits`. */
export const LIMIT_NAMES = ['memoryBytes', 'cpus', 'pids', 'outputBytes', 'diskBytes'] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];
