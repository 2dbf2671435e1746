import type { CanaryEndpoints } from '../../types.js';
import { needsHostLoopback, needsHostLoopback6, needsIPv6, type NetworkProbe } from './probe.js';
import { nativeProbeLibrary } from './native-library.js';
import { nodeProbe } from '../prelude.js';

const node =
  (body: (endpoints: CanaryEndpoints, nonce: string) => string) => (endpoints: CanaryEndpoints, nonce: string) =>
    nodeProbe(endpoints, nonce, body(endpoints, nonce));

const tcpTo = (target: string, label: string) =>
  `await step('net.connect ${label}', () => sendTcp({ host: ${target}.host, port: ${target}.port }, '${label} ' + NONCE));`;

/** Node.js probes: every client stack, and the paths in-process patching cannot stop (N7, N9, N10). */
export const NODE_NETWORK_PROBES: readonly NetworkProbe[] = [
  {
    id: 'N1:http',
    group: 'N1',
    title: 'http.request to the HTTP canary',
    language: 'node',
    patchable: true,
    code: node(
      () => `await step('http.request', () => new Promise((resolve, reject) => {
  const req = $r('node:http').request({ host: E.tcp.host, port: E.tcp.port, path: '/' + NONCE, method: 'GET', agent: false }, (res) => { res.resume(); resolve({ status: res.statusCode }); });
  req.on('error', reject); req.end();
}));`,
    ),
  },
  {
    id: 'N1:https',
    group: 'N1',
    title: 'https.get (nonce in the TLS SNI)',
    language: 'node',
    patchable: true,
    code: node(
      () => `await step('https.get', () => new Promise((resolve, reject) => {
  const req = $r('node:https').get({ host: E.tcp.host, port: E.tcp.port, path: '/' + NONCE, servername: NONCE + '.' + E.dnsZone, rejectUnauthorized: false, agent: false }, (res) => { res.resume(); resolve({}); });
  req.on('error', reject);
}));`,
    ),
  },
  {
    id: 'N2:net.connect',
    group: 'N2',
    title: 'net.connect raw TCP',
    language: 'node',
    patchable: true,
    code: node(() => tcpTo('E.tcp', 'net.connect')),
  },
  {
    id: 'N2:net.Socket',
    group: 'N2',
    title: 'new net.Socket().connect',
    language: 'node',
    patchable: true,
    code: node(
      () => `await step('new net.Socket().connect', () => new Promise((resolve, reject) => {
  const s = new ($r('node:net').Socket)(); s.once('error', reject);
  s.connect(E.tcp.port, E.tcp.host, () => s.end('net.Socket ' + NONCE, () => { s.destroy(); resolve({}); }));
}));`,
    ),
  },
  {
    id: 'N2:tls.connect',
    group: 'N2',
    title: 'tls.connect (nonce in the SNI)',
    language: 'node',
    patchable: true,
    code: node(
      () => `await step('tls.connect', () => new Promise((resolve, reject) => {
  const s = $r('node:tls').connect({ host: E.tcp.host, port: E.tcp.port, servername: NONCE + '.' + E.dnsZone, rejectUnauthorized: false });
  s.once('error', reject); s.once('secureConnect', () => { s.destroy(); resolve({}); });
}));`,
    ),
  },
  {
    id: 'N3:fetch',
    group: 'N3',
    title: 'global fetch (undici, bypasses http)',
    language: 'node',
    code: node(
      () => `await step('fetch', async () => {
  const res = await fetch('http://' + hostOf(E.tcp.host) + ':' + E.tcp.port + '/' + NONCE);
  await res.text(); return { status: res.status };
});`,
    ),
  },
  {
    id: 'N3:WebSocket',
    group: 'N3',
    title: 'global WebSocket (undici)',
    language: 'node',
    code: node(
      () => `if (typeof WebSocket !== 'function') { process.stdout.write('CORDON-UNSUPPORTED no global WebSocket in Node ' + process.version + ' (it arrives unflagged in Node 22)\\n'); return; }
await step('WebSocket', () => new Promise((resolve, reject) => {
  const ws = new WebSocket('ws://' + hostOf(E.tcp.host) + ':' + E.tcp.port + '/' + NONCE);
  ws.onopen = () => { ws.close(); resolve({}); };
  ws.onerror = (event) => reject(event.error || Object.assign(new Error(String(event.message || 'websocket error')), { code: 'EWEBSOCKET' }));
}));`,
    ),
  },
  {
    id: 'N4:http2',
    group: 'N4',
    title: 'http2.connect (separate client stack; nonce in a DATA frame)',
    language: 'node',
    patchable: true,
    code: node(
      () => `await step('http2.connect', () => new Promise((resolve, reject) => {
  const session = $r('node:http2').connect('http://' + hostOf(E.tcp.host) + ':' + E.tcp.port);
  session.on('error', reject);
  const req = session.request({ ':method': 'POST', ':path': '/' + NONCE });
  req.on('error', reject);
  req.end('http2 ' + NONCE, () => setTimeout(() => { session.destroy(); resolve({}); }, 100));
}));`,
    ),
  },
  {
    id: 'N5:dgram',
    group: 'N5',
    title: 'dgram UDP datagram',
    language: 'node',
    patchable: true,
    code: node(
      () => `await step('dgram.send', () => new Promise((resolve, reject) => {
  const s = $r('node:dgram').createSocket('udp4'); s.once('error', reject);
  s.send(Buffer.from('dgram ' + NONCE), E.udp.port, E.udp.host, (err) => { s.close(); if (err) reject(err); else resolve({}); });
}));`,
    ),
  },
  {
    id: 'N6:dns.Resolver',
    group: 'N6',
    title: 'dns.Resolver with setServers([canary]) (c-ares UDP)',
    language: 'node',
    code: node(
      () => `await step('Resolver.resolve4', async () => {
  const resolver = new ($r('node:dns').promises.Resolver)({ timeout: 2000, tries: 1 });
  resolver.setServers([E.dns.host + ':' + E.dns.port]);
  const answer = await resolver.resolve4(NONCE + '.' + E.dnsZone);
  return { answer: answer[0] };
});`,
    ),
  },
  {
    id: 'N7:tcp_wrap',
    group: 'N7',
    title: "process.binding('tcp_wrap') raw handle",
    language: 'node',
    code: node(
      () => `await step("process.binding('tcp_wrap')", () => new Promise((resolve, reject) => {
  const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
  const { WriteWrap } = process.binding('stream_wrap');
  const handle = new TCP(constants.SOCKET);
  const req = new TCPConnectWrap();
  const fail = (status) => { handle.close(); reject(Object.assign(new Error('tcp_wrap status ' + status), { code: $r('node:util').getSystemErrorName(status) })); };
  req.oncomplete = (status) => {
    if (status < 0) return fail(status);
    const write = new WriteWrap(); write.handle = handle; write.oncomplete = () => {}; write.async = false;
    const err = handle.writeUtf8String(write, 'tcp_wrap ' + NONCE);
    if (err < 0) return fail(err);
    setTimeout(() => { handle.close(); resolve({}); }, 100);
  };
  const err = handle.connect(req, E.tcp.host, E.tcp.port);
  if (err < 0) fail(err);
}));`,
    ),
  },
  {
    id: 'N8:worker',
    group: 'N8',
    title: 'worker_threads Worker (fresh module instances, no main-thread patches)',
    language: 'node',
    code: node((endpoints, nonce) => {
      const worker = `const s=require('net').connect(${endpoints.tcp.port},${JSON.stringify(endpoints.tcp.host)});s.on('error',(e)=>require('worker_threads').parentPort.postMessage(e.code||String(e)));s.on('connect',()=>s.end(${JSON.stringify(`worker ${nonce}`)},()=>require('worker_threads').parentPort.postMessage('ok')))`;
      return `await step('new Worker(eval)', () => new Promise((resolve, reject) => {
  const worker = new ($r('node:worker_threads').Worker)(${JSON.stringify(worker)}, { eval: true });
  worker.once('message', (m) => { worker.terminate(); if (m === 'ok') resolve({}); else reject(Object.assign(new Error(m), { code: m })); });
  worker.once('error', reject);
}));`;
    }),
  },
  {
    id: 'N9:node-child',
    group: 'N9',
    title: 'child node process with env {} (NODE_OPTIONS dropped)',
    language: 'node',
    code: node((endpoints, nonce) => {
      const child = `const s=require('net').connect(${endpoints.tcp.port},${JSON.stringify(endpoints.tcp.host)});s.on('error',(e)=>{console.error(e.code);process.exit(3)});s.on('connect',()=>s.end(${JSON.stringify(`node-child ${nonce}`)},()=>process.exit(0)))`;
      return childStep(
        'spawn(process.execPath, { env: {} })',
        `process.execPath, ['-e', ${JSON.stringify(child)}], { env: {} }`,
      );
    }),
  },
  {
    id: 'N9:python-child',
    group: 'N9',
    title: 'child python3 process spawned from Node',
    language: 'node',
    requiresTools: ['python3'],
    code: node((endpoints, nonce) => {
      const child = `import socket\ns=socket.create_connection((${JSON.stringify(endpoints.tcp.host)},${endpoints.tcp.port}),4)\ns.sendall(b${JSON.stringify(`python-child ${nonce}`)})\ns.close()`;
      return `if (!onPath('python3')) { process.stdout.write('CORDON-TOOL-MISSING python3\\n'); return; }
${childStep('spawn python3', `'python3', ['-c', ${JSON.stringify(child)}], { env: { PATH: process.env.PATH || '/usr/bin:/bin' } }`)}`;
    }),
  },
  {
    id: 'N10:esm',
    group: 'N10',
    title: "ESM named binding from import('node:net')",
    language: 'node',
    code: node(
      () => `await step("import('node:net').connect", async () => {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect(E.tcp.port, E.tcp.host); s.once('error', reject);
    s.once('connect', () => s.end('esm ' + NONCE, () => { s.destroy(); resolve({}); }));
  });
});`,
    ),
  },
  {
    id: 'N11:dlopen',
    group: 'N11',
    title: 'process.dlopen of a native library that connects from its constructor',
    language: 'node',
    files: async () => {
      const library = await nativeProbeLibrary();
      return 'bytes' in library
        ? { files: { 'cordon-probe.so': library.bytes } }
        : { unavailable: library.unavailable };
    },
    code: node(
      () => `const fs = $r('node:fs'), path = $r('node:path'), os = $r('node:os');
process.env.CORDON_PROBE_HOST = E.tcp.host; process.env.CORDON_PROBE_PORT = String(E.tcp.port); process.env.CORDON_PROBE_NONCE = NONCE;
const load = (file) => { try { process.dlopen({ exports: {} }, file); return 'loaded'; } catch (e) { return /self-register|not a valid|napi_register/i.test(String(e.message)) ? 'loaded' : String(e.message); } };
let outcome = load(path.resolve('cordon-probe.so'));
if (outcome !== 'loaded') {
  // The working directory may be mounted noexec; try the temp dir too.
  const copy = path.join(os.tmpdir(), 'cordon-probe-' + NONCE + '.so');
  try { fs.copyFileSync('cordon-probe.so', copy); outcome = load(copy); } catch (e) { outcome = outcome + '; ' + e.message; }
}
if (outcome !== 'loaded') {
  if (/failed to map segment|operation not permitted/i.test(outcome)) process.stdout.write('CORDON-UNSUPPORTED native code cannot be loaded here (noexec): ' + outcome.slice(0, 120) + '\\n');
  emit({ step: 'process.dlopen', ok: false, code: 'EDLOPEN', message: outcome.slice(0, 200) });
}`,
    ),
  },
  {
    id: 'V6:node-tcp',
    group: 'V6',
    title: 'net.connect to the IPv6 canary',
    language: 'node',
    patchable: true,
    notApplicable: needsIPv6,
    code: node(() => tcpTo('E.tcp6', 'net.connect-v6')),
  },
  {
    id: 'V6:node-udp',
    group: 'V6',
    title: 'dgram udp6 to the IPv6 canary',
    language: 'node',
    patchable: true,
    notApplicable: needsIPv6,
    code: node(
      () => `await step('dgram udp6', () => new Promise((resolve, reject) => {
  const s = $r('node:dgram').createSocket('udp6'); s.once('error', reject);
  s.send(Buffer.from('dgram6 ' + NONCE), E.udp6.port, E.udp6.host, (err) => { s.close(); if (err) reject(err); else resolve({}); });
}));`,
    ),
  },
  {
    id: 'L1:node-v4',
    group: 'L1',
    title: "net.connect to the host's 127.0.0.1",
    language: 'node',
    patchable: true,
    notApplicable: needsHostLoopback,
    runWhenNotApplicable: true,
    code: node(() => tcpTo('E.loopbackTcp', 'loopback')),
  },
  {
    id: 'L1:node-v6',
    group: 'L1',
    title: "net.connect to the host's ::1",
    language: 'node',
    patchable: true,
    notApplicable: needsHostLoopback6,
    runWhenNotApplicable: true,
    code: node(() => `if (!E.loopbackTcp6) return;\n${tcpTo('E.loopbackTcp6', 'loopback6')}`),
  },
  {
    id: 'L1:node-v4mapped',
    group: 'L1',
    title: 'net.connect to ::ffff:127.0.0.1 (IPv4-mapped, slips past address filters)',
    language: 'node',
    patchable: true,
    notApplicable: needsHostLoopback,
    runWhenNotApplicable: true,
    code: node(
      () =>
        `await step('net.connect ::ffff:127.0.0.1', () => sendTcp({ host: '::ffff:' + E.loopbackTcp.host, port: E.loopbackTcp.port }, 'v4mapped ' + NONCE));`,
    ),
  },
  {
    id: 'D2:node-lookup',
    group: 'D2',
    title: 'dns.lookup (system resolver) of <nonce>.<zone>',
    language: 'node',
    patchable: true,
    notApplicable: needsSystemResolver,
    runWhenNotApplicable: true,
    code: node(
      () =>
        `await step('dns.lookup', async () => ({ answer: (await $r('node:dns').promises.lookup(NONCE + '.' + E.dnsZone, { family: 4 })).address }));`,
    ),
  },
  {
    id: 'U1:node',
    group: 'U1',
    title: 'net.connect to a host Unix socket path',
    language: 'node',
    patchable: true,
    controlOn: 'host',
    code: node(() => `await step('net.connect unix', () => sendTcp({ path: E.unixPath }, 'unix ' + NONCE));`),
  },
  {
    id: 'U2:node',
    group: 'U2',
    title: "net.connect to the host's abstract Unix socket",
    language: 'node',
    patchable: true,
    controlOn: 'host',
    notApplicable: (context) =>
      context.endpoints.abstractName ? undefined : 'the host cannot listen on an abstract Unix socket',
    code: node(
      () => `await step('net.connect abstract', () => sendTcp({ path: '\\0' + E.abstractName }, 'abstract ' + NONCE));`,
    ),
  },
  {
    id: 'NL1:node-interfaces',
    group: 'NL1',
    title: 'os.networkInterfaces shows only loopback',
    language: 'node',
    judge: 'output',
    code: node(
      () => `await step('os.networkInterfaces', async () => {
  const names = Object.entries($r('node:os').networkInterfaces()).filter(([, addresses]) => (addresses || []).some((a) => !a.internal)).map(([name]) => name);
  process.stdout.write('CORDON-FACT interfaces=' + (names.join(',') || 'loopback only') + '\\n');
  return { reached: names.length > 0 };
});`,
    ),
  },
];

export function needsSystemResolver(context: { network: { dnsPort?: number } }): string | undefined {
  return context.network.dnsPort === undefined
    ? "the sandbox's system resolver is not the DNS canary (the adapter sets no canaryNetwork.dnsPort), so a lookup through it cannot be observed; D1 sends queries straight to the canary instead"
    : undefined;
}

function childStep(label: string, spawnArgs: string): string {
  return `await step(${JSON.stringify(label)}, () => new Promise((resolve, reject) => {
  const child = $r('node:child_process').spawn(${spawnArgs});
  let out = ''; child.stdout.on('data', (d) => (out += d)); child.stderr.on('data', (d) => (out += d));
  child.on('error', reject);
  child.on('close', (code) => (code === 0 ? resolve({}) : reject(Object.assign(new Error(out.trim().slice(-200)), { code: (out.match(/E[A-Z_]{3,}/) || ['exit ' + code])[0] }))));
}));`;
}
