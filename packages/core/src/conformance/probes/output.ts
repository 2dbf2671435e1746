import { debug } from '../../backend/debug.js';
/** What a probe printed about itself, parsed from its `CORDON-*` lines. */
export interface ProbeOutput {
  /** `step: ok` or `step: CODE`, in order. */
  steps: string[];
  missingTools: string[];
  unsupported: string | undefined;
  /** An output-judged probe reported that it got through (e.g. an interface change succeeded). */
  reached: boolean;
  /** An output-judged probe reported at least one attempt denied by the kernel (EPERM, EACCES, ESRCH...). */
  denied: boolean;
  /** Free-form facts a probe reports (`CORDON-FACT key=value`). */
  facts: Record<string, string>;
  /** The longest a step took, in ms (each step reports its own), or undefined when none said. */
  slowestStepMs: number | undefined;
}

const DENIAL_CODES = new Set([
  'EPERM',
  'EACCES',
  'ESRCH',
  'ENOSYS',
  'EINVAL',
  'ENOENT',
  'EROFS',
  'ENODEV',
  'EOPNOTSUPP',
]);

/**
 * Parses probe output. Lines: `CORDON-PROBE {"step","ok","code","message","reached"}`,
 * `CORDON-TOOL-MISSING <tool>`, `CORDON-UNSUPPORTED <reason>`, `CORDON-FACT <key>=<value>`.
 */
export function parseProbeOutput(stdout: string): ProbeOutput {
  const output: ProbeOutput = {
    steps: [],
    missingTools: [],
    unsupported: undefined,
    reached: false,
    denied: false,
    facts: {},
    slowestStepMs: undefined,
  };
  for (const line of stdout.split('\n')) {
    if (line.startsWith('CORDON-PROBE ')) {
      let parsed: { step?: unknown; ok?: unknown; code?: unknown; message?: unknown; reached?: unknown; ms?: unknown };
      try {
        parsed = JSON.parse(line.slice('CORDON-PROBE '.length)) as typeof parsed;
      } catch {
        // Sandbox output: its length only.
        debug('conformance.probe', () => `a ${line.length}-char CORDON-PROBE line is not JSON, skipped`);
        continue;
      }
      const step = typeof parsed.step === 'string' ? parsed.step : '?';
      const message = typeof parsed.message === 'string' ? parsed.message : '';
      const code =
        parsed.ok === true ? 'ok' : normalizeErrorCode(typeof parsed.code === 'string' ? parsed.code : '', message);
      output.steps.push(`${step}: ${code}`);
      if (parsed.reached === true) output.reached = true;
      if (typeof parsed.ms === 'number' && Number.isFinite(parsed.ms))
        output.slowestStepMs = Math.max(output.slowestStepMs ?? 0, parsed.ms);
      if (parsed.ok !== true && DENIAL_CODES.has(code)) output.denied = true;
    } else if (line.startsWith('CORDON-TOOL-MISSING ')) {
      output.missingTools.push(line.slice('CORDON-TOOL-MISSING '.length).trim());
    } else if (line.startsWith('CORDON-UNSUPPORTED ')) {
      output.unsupported = line.slice('CORDON-UNSUPPORTED '.length).trim();
    } else if (line.startsWith('CORDON-FACT ')) {
      const fact = line.slice('CORDON-FACT '.length);
      const eq = fact.indexOf('=');
      if (eq > 0) output.facts[fact.slice(0, eq)] = fact.slice(eq + 1).trim();
    }
  }
  return output;
}

const MESSAGE_CODES: ReadonlyArray<[RegExp, string]> = [
  [/connection refused|couldn't connect|failed to connect.*refused/i, 'ECONNREFUSED'],
  [/network is unreachable/i, 'ENETUNREACH'],
  [/no route to host/i, 'EHOSTUNREACH'],
  [/operation not permitted/i, 'EPERM'],
  [/permission denied/i, 'EACCES'],
  [/cannot assign requested address/i, 'EADDRNOTAVAIL'],
  [/address family not supported/i, 'EAFNOSUPPORT'],
  [
    /temporary failure in name resolution|could not resolve|name or service not known|unable to resolve|resolving timed out/i,
    'EAI_AGAIN',
  ],
  [/timed out|timeout/i, 'ETIMEDOUT'],
  [/no such file or directory/i, 'ENOENT'],
  [/connection reset/i, 'ECONNRESET'],
];

/** The errno-style code for a step: the probe's own code when it is one, else read from the message (curl, wget, nc, bash). */
export function normalizeErrorCode(code: string, message = ''): string {
  if (/^E[A-Z0-9_]+$/.test(code)) return code;
  for (const [pattern, name] of MESSAGE_CODES) {
    if (pattern.test(message) || pattern.test(code)) return name;
  }
  const text = (code || message).trim();
  return text === '' ? 'error' : text.slice(0, 60);
}
