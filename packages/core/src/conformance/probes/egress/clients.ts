/**
 * The programs egress probes run: each tries to deliver its nonce to `target` (a test
 * name, or an address) through one path out. They print steps like every probe; the
 * canaries, not their output, decide whether anything got through.
 */
import type { CanaryEndpoints } from '../../types.js';
import { bashProbe, nodeProbe, pythonProbe } from '../prelude.js';

/** The forwarder's HTTP proxy inside a sandbox under an allow-list (HTTP_PROXY points there too). */
const PROXY = { host: '127.0.0.1', port: 3128 };

export interface Attempt {
  readonly endpoints: CanaryEndpoints;
  readonly nonce: string;
  readonly target: string;
  readonly port: number;
}

const bracket = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** Node snippets shared by the node clients: a raw HTTP/1.1 exchange over any socket. */
const NODE_HELPERS = `
const net = $r('node:net');
const tls = $r('node:tls');
const exchange = (socket, text) => new Promise((resolve, reject) => {
  let got = '';
  socket.setEncoding('latin1');
  socket.on('data', (d) => { got += d; });
  socket.once('error', reject);
  socket.once('close', () => resolve({ answer: got.split('\\r\\n')[0] }));
  if (text) socket.write(text);
});
const connectVia = (port) => new Promise((resolve, reject) => {
  const socket = net.connect(port === undefined ? ${PROXY.port} : port, '${PROXY.host}');
  socket.once('error', reject);
  socket.once('connect', () => resolve(socket));
});
const tunnel = (target, port) => connectVia().then((socket) => new Promise((resolve, reject) => {
  let head = '';
  socket.setEncoding('latin1');
  const onData = (d) => {
    head += d;
    if (!head.includes('\\r\\n\\r\\n')) return;
    socket.removeListener('data', onData);
    if (!/^HTTP\\/1\\.[01] 200/.test(head)) { socket.destroy(); reject(Object.assign(new Error(head.split('\\r\\n')[0]), { code: 'DENIED' })); return; }
    resolve(socket);
  };
  socket.on('data', onData);
  socket.once('error', reject);
  socket.write('CONNECT ' + target + ':' + port + ' HTTP/1.1\\r\\nHost: ' + target + ':' + port + '\\r\\n\\r\\n');
}));
const hello = (socket, servername) => new Promise((resolve, reject) => {
  const options = { socket, servername, ALPNProtocols: ['n' + NONCE], rejectUnauthorized: false };
  const secure = tls.connect(options);
  secure.once('secureConnect', () => resolve({}));
  secure.once('error', reject);
  secure.once('close', () => resolve({ closed: true }));
});
`;

export const clients = {
  nodeHttp: ({ endpoints, nonce, target, port }: Attempt) =>
    nodeProbe(
      endpoints,
      nonce,
      `await step('http.get', () => new Promise((resolve, reject) => {
  const request = $r('node:http').get({ host: ${JSON.stringify(target)}, port: ${port}, path: '/' + NONCE }, (response) => { response.resume(); response.on('end', () => resolve({ status: response.statusCode })); });
  request.on('error', reject);
}));`,
    ),
  nodeFetch: ({ endpoints, nonce, target, port }: Attempt) =>
    nodeProbe(
      endpoints,
      nonce,
      `await step('fetch', async () => { const response = await fetch('http://${bracket(target)}:${port}/' + NONCE); await response.text(); return { status: response.status }; });`,
    ),
  nodeNet: ({ endpoints, nonce, target, port }: Attempt) =>
    nodeProbe(
      endpoints,
      nonce,
      `await step('net.connect', () => sendTcp({ host: ${JSON.stringify(target)}, port: ${port} }, 'GET /' + NONCE + ' HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n'));`,
    ),
  pythonUrllib: ({ endpoints, nonce, target, port }: Attempt) =>
    pythonProbe(
      endpoints,
      nonce,
      `import urllib.request
step('urllib', lambda: {'status': urllib.request.urlopen('http://${bracket(target)}:${port}/' + NONCE, timeout=4).status})`,
    ),
  pythonSocket: ({ endpoints, nonce, target, port }: Attempt) =>
    pythonProbe(
      endpoints,
      nonce,
      `step('socket', lambda: send_tcp(${JSON.stringify(target)}, ${port}, 'GET /' + NONCE + ' HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n'))`,
    ),
  curl: ({ endpoints, nonce, target, port }: Attempt) =>
    bashProbe(
      endpoints,
      nonce,
      ['curl'],
      `step curl curl -sS -m 4 -o /dev/null "http://${bracket(target)}:${port}/$NONCE"`,
    ),
  curlDirect: ({ endpoints, nonce, target, port }: Attempt) =>
    bashProbe(
      endpoints,
      nonce,
      ['curl'],
      `step 'curl --noproxy' curl -sS -m 4 --noproxy '*' -o /dev/null "http://${bracket(target)}:${port}/$NONCE"`,
    ),
  wget: ({ endpoints, nonce, target, port }: Attempt) =>
    bashProbe(
      endpoints,
      nonce,
      ['wget'],
      `step wget wget -q -T 4 -t 1 -O /dev/null "http://${bracket(target)}:${port}/$NONCE"`,
    ),
  ncTcp: ({ endpoints, nonce, target, port }: Attempt) =>
    bashProbe(
      endpoints,
      nonce,
      ['nc'],
      `step 'nc' bash -c 'printf "GET /%s HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n" "$0" | nc -w 4 -q 2 ${target} ${port} >/dev/null' "$NONCE"`,
    ),
  bashTcp: ({ endpoints, nonce, target, port }: Attempt) =>
    bashProbe(
      endpoints,
      nonce,
      ['timeout'],
      `step /dev/tcp timeout 4 bash -c 'exec 3<>/dev/tcp/${target}/${port} && printf "GET /%s HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n" "$0" >&3 && cat <&3 >/dev/null' "$NONCE"`,
    ),

  /** A plain-HTTP request through the proxy, to `target` by name or address. */
  proxyGet: ({ endpoints, nonce, target, port }: Attempt) =>
    nodeProbe(
      endpoints,
      nonce,
      `${NODE_HELPERS}
await step('proxy GET', async () => exchange(await connectVia(), 'GET http://${bracket(target)}:${port}/' + NONCE + ' HTTP/1.1\\r\\nHost: ${bracket(target)}:${port}\\r\\nConnection: close\\r\\n\\r\\n'));`,
    ),
  /** CONNECT to `target`, then a TLS ClientHello naming `servername` (the nonce rides in ALPN). */
  connectTls: ({ endpoints, nonce, target, port }: Attempt, servername: string) =>
    nodeProbe(
      endpoints,
      nonce,
      `${NODE_HELPERS}
await step('CONNECT + TLS', async () => hello(await tunnel(${JSON.stringify(target)}, ${port}), ${JSON.stringify(servername)}));`,
    ),
  /** A captured TLS connection to `target` whose ClientHello names `servername`. */
  capturedTls: ({ endpoints, nonce, target, port }: Attempt, servername: string) =>
    nodeProbe(
      endpoints,
      nonce,
      `${NODE_HELPERS}
await step('tls.connect', () => new Promise((resolve, reject) => {
  const socket = net.connect(${port}, ${JSON.stringify(target)});
  socket.once('error', reject);
  socket.once('connect', () => hello(socket, ${JSON.stringify(servername)}).then(resolve, reject));
}));`,
    ),
  /** A captured plain-HTTP connection to `target` whose Host header says `host`. */
  capturedHost: ({ endpoints, nonce, target, port }: Attempt, host: string) =>
    nodeProbe(
      endpoints,
      nonce,
      `${NODE_HELPERS}
await step('Host header', async () => exchange(await new Promise((resolve, reject) => { const s = net.connect(${port}, ${JSON.stringify(target)}); s.once('error', reject); s.once('connect', () => resolve(s)); }), 'GET /' + NONCE + ' HTTP/1.1\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n'));`,
    ),
  /** Two requests on one kept-alive proxy connection: the first to `first`, the second (with the nonce) to `target`. */
  keepAlive: ({ endpoints, nonce, target, port }: Attempt, first: string) =>
    nodeProbe(
      endpoints,
      nonce,
      `${NODE_HELPERS}
await step('two requests, one connection', async () => {
  const socket = await connectVia();
  socket.setEncoding('latin1');
  let got = '';
  socket.on('data', (d) => { got += d; });
  socket.write('GET http://${first}:${port}/first HTTP/1.1\\r\\nHost: ${first}:${port}\\r\\n\\r\\n');
  await new Promise((r) => setTimeout(r, 700));
  socket.write('GET http://${target}:${port}/' + NONCE + ' HTTP/1.1\\r\\nHost: ${target}:${port}\\r\\nConnection: close\\r\\n\\r\\n');
  await new Promise((resolve) => { socket.once('close', resolve); setTimeout(resolve, 2500); });
  socket.destroy();
  return { answers: (got.match(/HTTP\\/1\\.[01] \\d+/g) || []).join(',') };
});`,
    ),
};
