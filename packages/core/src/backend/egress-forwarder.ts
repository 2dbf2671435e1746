/**
 * The sandbox's half of an allow-list as every backend wires it: where the forwarder
 * (images/runtime/runner/egress-forwarder.pl) listens inside a sandbox, and the
 * variables that send proxy-aware programs there.
 */

/** The forwarder's ports on the sandbox's loopback (`captured` only where netfilter redirects to it: spawn). */
export const FORWARDER_PORTS = { captured: 15001, httpProxy: 3128, socks: 1080, dns: 53 } as const;

/**
 * For programs that honour proxy settings: the forwarder's HTTP proxy and SOCKS5 proxy.
 * curl reads only the lowercase http_proxy; Node's http and fetch read them with
 * NODE_USE_ENV_PROXY (Node 22.21 and later). Loopback stays direct.
 */
export const EGRESS_PROXY_ENV: Readonly<Record<string, string>> = (() => {
  const http = `http://127.0.0.1:${FORWARDER_PORTS.httpProxy}`;
  const socks = `socks5h://127.0.0.1:${FORWARDER_PORTS.socks}`;
  const direct = 'localhost,127.0.0.1,::1';
  return {
    HTTP_PROXY: http,
    HTTPS_PROXY: http,
    http_proxy: http,
    https_proxy: http,
    ALL_PROXY: socks,
    all_proxy: socks,
    NO_PROXY: direct,
    no_proxy: direct,
    NODE_USE_ENV_PROXY: '1',
  };
})();

/** The runner's agent preload inside cordon's image (images/runtime/runner/egress-agent.cjs). */
const IMAGE_EGRESS_AGENT = '/opt/cordon/runner/egress-agent.cjs';

/**
 * The program's variables under an allow-list in an image sandbox (docker, k8s), where
 * nothing is captured: the proxy variables, and for Node processes the program starts
 * itself, the agent preload (the booted Node has it from its command line). The
 * caller's own variables win; its NODE_OPTIONS are kept after the preload.
 */
export function imageEgressEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const preload = `--require ${IMAGE_EGRESS_AGENT} --disable-warning=UNDICI-EHPA`;
  return {
    ...EGRESS_PROXY_ENV,
    ...env,
    NODE_OPTIONS: env.NODE_OPTIONS ? `${preload} ${env.NODE_OPTIONS}` : preload,
  };
}
