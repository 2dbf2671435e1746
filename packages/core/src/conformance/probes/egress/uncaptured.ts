import type { Language } from '../../../request.js';
import { STEP_TIMEOUT_MS } from '../prelude.js';
import type { Attempt } from './clients.js';
import { allowPolicy, egressRecords, egressResult } from './harness.js';
import type { EgressCheck } from './index.js';

/** A refusal slower than this is a hang cut short (a step gives up after STEP_TIMEOUT_MS). */
const FAIL_FAST_MS = STEP_TIMEOUT_MS / 2;

/**
 * On a backend whose sandboxes cannot capture connections (`capabilities().egress.capture`
 * `'proxy-only'`), a client that ignores the proxy settings has no way out at all, even
 * to a listed destination: this check proves that, and that it is refused at once
 * rather than left to hang. Control: the same client under network `'open'` reaches the
 * canary's address. Probe: under an allow-list that lists that very address and port,
 * it must not, its run must take no longer than the control's by half a probe step (a
 * hang costs a whole step), and the audit must not claim an allowed connection.
 */
export function uncapturedCheck(spec: {
  readonly id: string;
  readonly title: string;
  readonly language: Language;
  readonly program: (attempt: Attempt) => string;
}): EgressCheck {
  const title = `${spec.title}: not captured here; a raw connection, even to a listed address, fails at once`;
  return {
    id: spec.id,
    title,
    language: spec.language,
    async run(context) {
      const { host, port } = context.endpoints.tcp;
      const controlNonce = context.nonce();
      const probeNonce = context.nonce();
      const attempt = (nonce: string): Attempt => ({ endpoints: context.endpoints, nonce, target: host, port });
      // The adapter's control (network open; e.g. runc where the sandboxes run on gVisor without a netstack).
      const control = await context.run(
        'control',
        { language: spec.language, code: spec.program(attempt(controlNonce)) },
        controlNonce,
      );
      const listed = host.includes(':') ? `[${host}]/128:${port}` : `${host}/32:${port}`;
      const probe = await context.runWithNetwork(
        allowPolicy({ allow: [listed], resolve: {} }),
        { language: spec.language, code: spec.program(attempt(probeNonce)) },
        probeNonce,
      );
      const result = await egressResult({
        context,
        id: spec.id,
        title,
        language: spec.language,
        probe,
        probeNonce,
        control,
        controlNonce,
        audit: () => {
          const tookMs = probe.output.slowestStepMs;
          if (tookMs === undefined) return 'the probe did not say how long its attempt took';
          if (tookMs >= FAIL_FAST_MS)
            return `the refused attempt took ${tookMs} ms: the connection hung instead of failing at once`;
          if (egressRecords(probe).some((record) => record.path !== 'dns' && record.verdict === 'allowed'))
            return 'the audit records an allowed connection, although nothing is captured';
          if (!probe.result?.egress) return 'the result has no egress audit';
          return undefined;
        },
      });
      return result.verdict === 'blocked'
        ? {
            ...result,
            detail: `not captured (proxy-only), refused in the sandbox in ${probe.output.slowestStepMs ?? '?'} ms: ${result.detail}`,
          }
        : result;
    },
  };
}
