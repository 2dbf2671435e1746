/**
 * Preloaded (`--require`) into every Node process of an allow-list run, so that `fetch`
 * honours the proxy variables on every Node we support: Node 20 (and 22 before 22.21)
 * ignores them, and its `fetch` would otherwise be only captured. Makes undici's
 * EnvHttpProxyAgent (bundled into one file beside this one, see
 * scripts/bundle-proxy-agent.mjs) the global dispatcher, lazily: the bundle is loaded
 * on the first read of the dispatcher, which only `fetch` makes, so a program that
 * never fetches pays nothing. Not a guarantee either: code that replaces the
 * dispatcher, or ignores it, is captured in the namespace and judged the same way.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS preload (`--require`) must use require. */
import path = require('node:path');

/** The key undici (Node's own and the package, 5 to 7) keeps the global dispatcher under. */
const DISPATCHER_KEY = Symbol.for('undici.globalDispatcher.1');
const BUNDLE = path.join(__dirname, 'undici-proxy-agent.cjs');

interface ProxyAgentModule {
  EnvHttpProxyAgent: new () => object;
}

/** Node 22.21 and 24 read NODE_USE_ENV_PROXY and make an EnvHttpProxyAgent of their own. */
function nodeHonoursEnvProxy(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return process.env.NODE_USE_ENV_PROXY === '1' && (major >= 24 || (major === 22 && minor >= 21));
}

if (!nodeHonoursEnvProxy() && !Object.getOwnPropertyDescriptor(globalThis, DISPATCHER_KEY)) {
  Object.defineProperty(globalThis, DISPATCHER_KEY, {
    configurable: true,
    enumerable: false,
    get() {
      const { EnvHttpProxyAgent } = require(BUNDLE) as ProxyAgentModule;
      const agent = new EnvHttpProxyAgent();
      Object.defineProperty(globalThis, DISPATCHER_KEY, { value: agent, writable: true, configurable: true });
      return agent;
    },
    // A program (or its own undici) that sets a dispatcher wins, as it would outside.
    set(value: unknown) {
      Object.defineProperty(globalThis, DISPATCHER_KEY, { value, writable: true, configurable: true });
    },
  });
}
