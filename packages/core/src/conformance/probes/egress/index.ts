import type { SuiteContext } from '../../context.js';
import type { ConformanceResult } from '../../types.js';
import type { Language } from '../../../request.js';
import { clients, type Attempt } from './clients.js';
import { allowPolicy, auditProblem, egressResult, testName, toCanary, type EgressRunSpec } from './harness.js';
export { EGRESS_ZONE } from './harness.js';
import { dnsExfiltration, dnsUnderNone, flood, crossExecution, udpDenied } from './properties.js';
import { uncapturedCheck } from './uncaptured.js';

/**
 * An egress check: runs its probe and positive control (both under allow-lists, so
 * the only difference is what the list says) and judges them by the canaries and
 * the audits. See docs/conformance.md "Egress".
 */
export interface EgressCheck {
  readonly id: string;
  readonly title: string;
  readonly language: Language;
  run(context: SuiteContext): Promise<ConformanceResult>;
}

const API = testName('api');
const OTHER = testName('other');
const HTTP_PORT = 80;
const TLS_PORT = 443;

interface PairSpec {
  readonly id: string;
  readonly title: string;
  readonly language: Language;
  /** The program each side runs. */
  readonly program: (attempt: Attempt) => string;
  readonly port: number;
  /** Control: the rules and the target that must get through. */
  readonly control: { readonly spec: EgressRunSpec; readonly target: string };
  /** Probe: the rules and the target that must not. */
  readonly probe: { readonly spec: EgressRunSpec; readonly target: string };
  /** What the probe's audit must show denied (default: a record naming the probe's target). */
  readonly deniedRecord?: { host?: string; address?: string };
  /** What the control's audit must show allowed (default: the control's target). */
  readonly allowedRecord?: { host?: string; address?: string };
  /** How many connections (or plain-HTTP requests) the control makes to its target: each must be one record. */
  readonly controlAttempts?: number;
}

function pair(spec: PairSpec): EgressCheck {
  return {
    id: spec.id,
    title: spec.title,
    language: spec.language,
    async run(context) {
      const controlNonce = context.nonce();
      const probeNonce = context.nonce();
      const attempt = (nonce: string, target: string): Attempt => ({
        endpoints: context.endpoints,
        nonce,
        target,
        port: spec.port,
      });
      const control = await context.runWithNetwork(
        allowPolicy(spec.control.spec),
        { language: spec.language, code: spec.program(attempt(controlNonce, spec.control.target)) },
        controlNonce,
      );
      const probe = await context.runWithNetwork(
        allowPolicy(spec.probe.spec),
        { language: spec.language, code: spec.program(attempt(probeNonce, spec.probe.target)) },
        probeNonce,
      );
      return egressResult({
        context,
        id: spec.id,
        title: spec.title,
        language: spec.language,
        probe,
        probeNonce,
        control,
        controlNonce,
        audit: () =>
          auditProblem(control, {
            verdict: 'allowed',
            count: spec.controlAttempts ?? 1,
            ...(spec.allowedRecord ?? { host: spec.control.target }),
          }) ?? auditProblem(probe, { verdict: 'denied', ...(spec.deniedRecord ?? { host: spec.probe.target }) }),
      });
    },
  };
}

/** Listed `API` vs unlisted `OTHER`, both mapped to the canary: only the policy tells them apart. */
function listedVersusUnlisted(
  context: SuiteContext,
  extra: readonly string[] = [],
): { control: EgressRunSpec; probe: EgressRunSpec } {
  const resolve = toCanary(context, [API, OTHER, ...extra]);
  return { control: { allow: [API], resolve }, probe: { allow: [API], resolve } };
}

interface Tool {
  readonly id: string;
  readonly title: string;
  readonly language: Language;
  readonly program: (attempt: Attempt) => string;
  /** Ignores the proxy settings: reaches the broker only where connections are captured. */
  readonly raw?: true;
}

/** Every tool and runtime the suite uses, by each path out: proxy-aware or captured. */
const TOOLS: readonly Tool[] = [
  { id: 'node-http', title: 'Node http.get', language: 'node', program: clients.nodeHttp },
  { id: 'node-fetch', title: 'Node fetch', language: 'node', program: clients.nodeFetch },
  { id: 'node-net', title: 'Node net.connect (raw)', language: 'node', program: clients.nodeNet, raw: true },
  {
    id: 'python-urllib',
    title: 'Python urllib (honours http_proxy)',
    language: 'python',
    program: clients.pythonUrllib,
  },
  { id: 'python-socket', title: 'Python socket (raw)', language: 'python', program: clients.pythonSocket, raw: true },
  { id: 'curl', title: 'curl (honours http_proxy)', language: 'bash', program: clients.curl },
  {
    id: 'curl-direct',
    title: "curl --noproxy '*' (captured)",
    language: 'bash',
    program: clients.curlDirect,
    raw: true,
  },
  { id: 'wget', title: 'wget (honours http_proxy)', language: 'bash', program: clients.wget },
  { id: 'nc', title: 'nc (raw, captured)', language: 'bash', program: clients.ncTcp, raw: true },
  { id: 'bash-tcp', title: 'bash /dev/tcp (captured)', language: 'bash', program: clients.bashTcp, raw: true },
];

/** A check that judges what only a captured connection shows (its SNI, its Host): nothing to judge without capture. */
function needsCapture(id: string, title: string): EgressCheck {
  return {
    id,
    title,
    language: 'node',
    run: () =>
      Promise.resolve({
        id,
        group: 'egress',
        kind: 'network',
        title,
        language: 'node',
        verdict: 'not-applicable',
        detail:
          "the backend captures no connection (capabilities().egress.capture 'proxy-only'): a raw connection fails in the sandbox before it has an SNI or a Host to judge (the raw tools' checks prove it fails)",
      }),
  };
}

export function egressChecks(context: SuiteContext): EgressCheck[] {
  const proxyOnly = context.capabilities.egress?.capture === 'proxy-only';
  const tools = TOOLS.map((tool) => {
    if (tool.raw && proxyOnly) return uncapturedCheck({ ...tool, id: `egress:${tool.id}` });
    const specs = listedVersusUnlisted(context);
    return pair({
      id: `egress:${tool.id}`,
      title: `${tool.title}: a listed name is reached and audited, an unlisted one denied`,
      language: tool.language,
      program: tool.program,
      port: HTTP_PORT,
      control: { spec: specs.control, target: API },
      probe: { spec: specs.probe, target: OTHER },
    });
  });
  const wildcard = testName('wild');
  const deep = `a.b.${wildcard}`;
  const sibling = `evil${wildcard}`;
  const wildResolve = toCanary(context, [wildcard, deep, sibling]);
  const suffixed = `${API}.evil.test`;
  const prefixed = `evil${API}`;
  const suffixResolve = toCanary(context, [API, suffixed, prefixed]);
  const { host: canaryHost, port: canaryPort } = context.endpoints.tcp;
  const loopback6 = context.endpoints.loopbackTcp6;
  const checks: EgressCheck[] = [
    ...tools,
    pair({
      id: 'egress:wildcard-apex',
      title: '*.x allows names below x at any depth, never x itself',
      language: 'node',
      program: clients.nodeHttp,
      port: HTTP_PORT,
      control: { spec: { allow: [`*.${wildcard}`], resolve: wildResolve }, target: deep },
      probe: { spec: { allow: [`*.${wildcard}`], resolve: wildResolve }, target: wildcard },
    }),
    pair({
      id: 'egress:wildcard-sibling',
      title: '*.x does not allow a name that merely ends in x (evilx)',
      language: 'node',
      program: clients.nodeHttp,
      port: HTTP_PORT,
      control: { spec: { allow: [`*.${wildcard}`], resolve: wildResolve }, target: deep },
      probe: { spec: { allow: [`*.${wildcard}`], resolve: wildResolve }, target: sibling },
    }),
    pair({
      id: 'egress:suffix-trick',
      title: 'a listed name with more labels after it (api.x.evil.test) is another name',
      language: 'node',
      program: clients.nodeHttp,
      port: HTTP_PORT,
      control: { spec: { allow: [API], resolve: suffixResolve }, target: API },
      probe: { spec: { allow: [API], resolve: suffixResolve }, target: suffixed },
    }),
    pair({
      id: 'egress:prefix-trick',
      title: 'a name that ends with a listed name without a dot (evilapi.x) is another name',
      language: 'node',
      program: clients.nodeHttp,
      port: HTTP_PORT,
      control: { spec: { allow: [API], resolve: suffixResolve }, target: API },
      probe: { spec: { allow: [API], resolve: suffixResolve }, target: prefixed },
    }),
    pair({
      id: 'egress:by-address',
      title: "the listed host's address, dialled without its name, is denied (a CIDR rule allows it)",
      language: 'node',
      program: clients.proxyGet,
      port: canaryPort,
      control: {
        spec: { allow: [API, `${canaryHost}/32:${canaryPort}`], resolve: toCanary(context, [API]) },
        target: canaryHost,
      },
      probe: { spec: { allow: [API], resolve: toCanary(context, [API]) }, target: canaryHost },
      allowedRecord: { address: canaryHost },
      deniedRecord: { address: canaryHost },
    }),
    pair({
      id: 'egress:connect-sni',
      title: 'CONNECT to a listed name, then a TLS SNI of an unlisted one (domain fronting), is denied',
      language: 'node',
      program: (attempt) => clients.connectTls({ ...attempt, target: API }, attempt.target),
      port: TLS_PORT,
      control: { spec: listedVersusUnlisted(context).control, target: API },
      probe: { spec: listedVersusUnlisted(context).probe, target: OTHER },
      deniedRecord: { host: API },
    }),
    proxyOnly
      ? needsCapture('egress:captured-sni', 'a captured TLS connection with an unlisted SNI is denied')
      : pair({
          id: 'egress:captured-sni',
          title: "a captured TLS connection to a listed name's address with an unlisted SNI is denied",
          language: 'node',
          program: (attempt) => clients.capturedTls({ ...attempt, target: API }, attempt.target),
          port: TLS_PORT,
          control: { spec: listedVersusUnlisted(context).control, target: API },
          probe: { spec: listedVersusUnlisted(context).probe, target: OTHER },
          deniedRecord: { host: API },
        }),
    proxyOnly
      ? needsCapture('egress:host-header', 'plain HTTP with the Host of an unlisted name is denied')
      : pair({
          id: 'egress:host-header',
          title: "plain HTTP to a listed name's address with the Host of an unlisted one is denied",
          language: 'node',
          program: (attempt) => clients.capturedHost({ ...attempt, target: API }, attempt.target),
          port: HTTP_PORT,
          control: { spec: listedVersusUnlisted(context).control, target: API },
          probe: { spec: listedVersusUnlisted(context).probe, target: OTHER },
          deniedRecord: { host: API },
        }),
    pair({
      id: 'egress:keep-alive',
      title: 'a second request to another host on a kept-alive proxy connection is checked and denied',
      language: 'node',
      program: (attempt) => clients.keepAlive(attempt, API),
      port: HTTP_PORT,
      controlAttempts: 2,
      control: { spec: listedVersusUnlisted(context).control, target: API },
      probe: { spec: listedVersusUnlisted(context).probe, target: OTHER },
    }),
    pair({
      id: 'egress:private-address',
      title: 'a listed name that resolves to a private or loopback address is denied (unless a CIDR rule names it)',
      language: 'node',
      program: clients.nodeHttp,
      port: HTTP_PORT,
      control: { spec: { allow: [API], resolve: toCanary(context, [API]) }, target: API },
      probe: {
        spec: { allow: [API], resolve: { [API]: { address: canaryHost, port: canaryPort, denySet: 'apply' } } },
        target: API,
      },
    }),
    ...(loopback6
      ? [
          pair({
            id: 'egress:ipv6',
            title: 'an IPv6 address is judged like an IPv4 one: denied unless a CIDR rule names it',
            language: 'node',
            program: clients.proxyGet,
            port: loopback6.port,
            control: {
              spec: { allow: [API, `[${loopback6.host}]/128:${loopback6.port}`], resolve: toCanary(context, [API]) },
              target: loopback6.host,
            },
            probe: { spec: { allow: [API], resolve: toCanary(context, [API]) }, target: loopback6.host },
            allowedRecord: { address: loopback6.host },
            deniedRecord: { address: loopback6.host },
          }),
        ]
      : [
          {
            id: 'egress:ipv6',
            title: 'an IPv6 address is judged like an IPv4 one',
            language: 'node' as const,
            run: () =>
              Promise.resolve({
                id: 'egress:ipv6',
                group: 'egress',
                kind: 'network' as const,
                title: 'an IPv6 address is judged like an IPv4 one',
                language: 'node' as const,
                verdict: 'not-applicable' as const,
                detail: 'this host has no IPv6 loopback, so no IPv6 canary can listen',
              }),
          },
        ]),
    dnsExfiltration,
    dnsUnderNone,
    udpDenied,
    flood,
    crossExecution,
  ];
  return checks;
}

/** The ids, for `only` and the docs (the IPv6 check needs an IPv6 loopback canary). */
export const EGRESS_CHECK_IDS: readonly string[] = [
  ...TOOLS.map((tool) => `egress:${tool.id}`),
  'egress:wildcard-apex',
  'egress:wildcard-sibling',
  'egress:suffix-trick',
  'egress:prefix-trick',
  'egress:by-address',
  'egress:connect-sni',
  'egress:captured-sni',
  'egress:host-header',
  'egress:keep-alive',
  'egress:private-address',
  'egress:ipv6',
  'egress:dns-exfiltration',
  'egress:dns-under-none',
  'egress:udp',
  'egress:flood',
  'egress:cross-execution',
];
