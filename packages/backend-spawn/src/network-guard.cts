/**
 * Preloaded (`--require`) into every Node process of a `network: 'none'` run.
 * It is the first layer, not the guarantee: it turns each Node network entry
 * point into a fast, clear error naming the blocked host and port. Determined
 * code can bypass it (native addons, non-Node programs); the kernel isolation's
 * empty network namespace is what actually holds. Kept small: it runs at the
 * start of every Node process in the sandbox.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS preload (`--require`) must use require. */
import net = require('node:net');
import dgram = require('node:dgram');
import dns = require('node:dns');
import childProcess = require('node:child_process');
import workerThreads = require('node:worker_threads');
import nodeModule = require('node:module');

type AnyFunction = (...args: unknown[]) => unknown;

const GUARD_PATH = __filename;
const REQUIRE_FLAG = `--require ${GUARD_PATH}`;

function blocked(what: string, target: string): Error {
  const error = new Error(
    `cordon: network access is disabled in this sandbox (${what} to ${target} was blocked)`,
  ) as NodeJS.ErrnoException;
  error.code = 'ERR_CORDON_NETWORK_BLOCKED';
  return error;
}

function hostPort(host: unknown, port: unknown): string {
  const name = typeof host === 'string' && host !== '' ? host : 'localhost';
  return `${name.includes(':') ? `[${name}]` : name}:${String(port)}`;
}

/** Describes `connect`'s arguments in all of its forms, including the normalized array http and net pass internally. */
function connectTarget(args: unknown[]): string {
  let first = args[0];
  if (Array.isArray(first)) first = first[0];
  if (typeof first === 'string' && !/^\d+$/.test(first)) return `unix socket ${first}`;
  if (typeof first === 'number' || typeof first === 'string') return hostPort(args[1], first);
  if (first !== null && typeof first === 'object') {
    const options = first as { host?: unknown; hostname?: unknown; port?: unknown; path?: unknown };
    if (typeof options.path === 'string') return `unix socket ${options.path}`;
    return hostPort(options.host ?? options.hostname, options.port);
  }
  return 'an unknown address';
}

function failLater(callback: unknown, emitter: { emit(event: string, error: Error): unknown }, error: Error): void {
  process.nextTick(() => {
    if (typeof callback === 'function') (callback as AnyFunction)(error);
    else emitter.emit('error', error);
  });
}

// TCP, TLS, Unix sockets, http(s), http2 and undici all end in Socket#connect.
net.Socket.prototype.connect = function connect(this: net.Socket, ...args: unknown[]) {
  const error = blocked('connect', connectTarget(args));
  process.nextTick(() => this.destroy(error));
  return this;
};

// UDP is not covered by net.
const udpProto = dgram.Socket.prototype as unknown as Record<string, AnyFunction>;
udpProto.send = function send(this: dgram.Socket, ...args: unknown[]) {
  const numbers = args.slice(1).filter((arg) => typeof arg === 'number');
  // send(msg, offset, length, port, address) or send(msg, port, address).
  const withOffset = numbers.length >= 3;
  const port = withOffset ? args[3] : args[1];
  const address = withOffset ? args[4] : args[2];
  const target =
    typeof port === 'number' ? hostPort(typeof address === 'string' ? address : undefined, port) : 'the connected peer';
  failLater(
    args.find((arg) => typeof arg === 'function'),
    this,
    blocked('UDP send', target),
  );
};
udpProto.connect = function connect(this: dgram.Socket, port: unknown, address: unknown, callback: unknown) {
  failLater(
    typeof address === 'function' ? address : callback,
    this,
    blocked('UDP connect', hostPort(typeof address === 'string' ? address : undefined, port)),
  );
};

// DNS: the system resolver and c-ares (which sends its own UDP).
const DNS_METHOD = /^(lookup|lookupService|resolve|resolve\w+|reverse)$/;
function guardCallbackApi(target: Record<string, unknown>): void {
  for (const name of Object.keys(target)) {
    if (!DNS_METHOD.test(name) || typeof target[name] !== 'function') continue;
    target[name] = function guarded(...args: unknown[]) {
      const error = blocked(`DNS ${name}`, JSON.stringify(args[0]));
      const callback = args.findLast((arg) => typeof arg === 'function');
      if (typeof callback !== 'function') throw error;
      process.nextTick(() => (callback as AnyFunction)(error));
      return undefined;
    };
  }
}
function guardPromiseApi(target: Record<string, unknown>): void {
  for (const name of Object.keys(target)) {
    if (!DNS_METHOD.test(name) || typeof target[name] !== 'function') continue;
    target[name] = (...args: unknown[]) => Promise.reject(blocked(`DNS ${name}`, JSON.stringify(args[0])));
  }
}
guardCallbackApi(dns);
redefineNonEnumerable(dns.Resolver.prototype as unknown as Record<string, unknown>, false);
guardPromiseApi(dns.promises);
redefineNonEnumerable(dns.promises.Resolver.prototype as unknown as Record<string, unknown>, true);

function redefineNonEnumerable(proto: Record<string, unknown>, promises: boolean): void {
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (!DNS_METHOD.test(name) || typeof proto[name] !== 'function') continue;
    const holder: Record<string, unknown> = { [name]: proto[name] };
    if (promises) guardPromiseApi(holder);
    else guardCallbackApi(holder);
    Object.defineProperty(proto, name, { value: holder[name], writable: true, configurable: true });
  }
}

// Raw handles under every JS patch.
const BLOCKED_BINDINGS = new Set([
  'tcp_wrap',
  'udp_wrap',
  'pipe_wrap',
  'tls_wrap',
  'cares_wrap',
  'stream_wrap',
  'js_stream',
]);
const processWithBinding = process as unknown as { binding: (name: string) => unknown };
const originalBinding = processWithBinding.binding.bind(process);
processWithBinding.binding = function binding(name: string) {
  if (BLOCKED_BINDINGS.has(name)) throw blocked('process.binding', JSON.stringify(name));
  return originalBinding(name);
};

// fetch and WebSocket (undici) are replaced without loading undici.
function targetOfUrl(input: unknown): string {
  try {
    const raw = typeof input === 'object' && input !== null && 'url' in input ? input.url : input;
    const url = new URL(String(raw));
    const port =
      url.port ||
      ({ 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' } as Record<string, string>)[url.protocol] ||
      '';
    return hostPort(url.hostname.replace(/^\[|\]$/g, ''), port);
  } catch {
    return JSON.stringify(String(input));
  }
}
function replaceGlobal(name: string, value: unknown): void {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
  if (!descriptor) return;
  Object.defineProperty(globalThis, name, {
    value,
    writable: true,
    configurable: true,
    enumerable: descriptor.enumerable ?? false,
  });
}
replaceGlobal('fetch', function fetch(input: unknown) {
  return Promise.reject(blocked('fetch', targetOfUrl(input)));
});
for (const name of ['WebSocket', 'EventSource']) {
  replaceGlobal(
    name,
    class {
      constructor(url: unknown) {
        throw blocked(name, targetOfUrl(url));
      }
    },
  );
}

// Follow the code into child Node processes, even when it passes its own env.
function withGuard(nodeOptions: string | undefined): string {
  if (nodeOptions?.includes(REQUIRE_FLAG)) return nodeOptions;
  return nodeOptions ? `${REQUIRE_FLAG} ${nodeOptions}` : REQUIRE_FLAG;
}
const childProto = childProcess.ChildProcess.prototype as unknown as {
  spawn: (options: { envPairs?: string[] }) => unknown;
};
const originalSpawn = childProto.spawn;
childProto.spawn = function spawn(this: unknown, options) {
  if (Array.isArray(options?.envPairs)) {
    const index = options.envPairs.findIndex((pair) => pair.startsWith('NODE_OPTIONS='));
    const current = index >= 0 ? options.envPairs[index]?.slice('NODE_OPTIONS='.length) : undefined;
    const pair = `NODE_OPTIONS=${withGuard(current)}`;
    if (index >= 0) options.envPairs[index] = pair;
    else options.envPairs.push(pair);
  }
  return originalSpawn.call(this, options);
};
const childExports = childProcess as unknown as Record<string, AnyFunction>;
for (const name of ['spawnSync', 'execSync', 'execFileSync']) {
  const original = childExports[name];
  if (!original) continue;
  childExports[name] = function guardedSync(...args: unknown[]) {
    for (const arg of args) {
      if (arg === null || typeof arg !== 'object' || Array.isArray(arg)) continue;
      const options = arg as { env?: Record<string, string | undefined> };
      if (options.env) options.env = { ...options.env, NODE_OPTIONS: withGuard(options.env.NODE_OPTIONS) };
    }
    return original.apply(this, args);
  };
}

// Worker threads do not run NODE_OPTIONS preloads; pass the guard explicitly.
const OriginalWorker = workerThreads.Worker;
class GuardedWorker extends OriginalWorker {
  constructor(filename: string | URL, options: workerThreads.WorkerOptions = {}) {
    super(filename, { ...options, execArgv: ['--require', GUARD_PATH, ...(options.execArgv ?? process.execArgv)] });
  }
}
(workerThreads as { Worker: typeof OriginalWorker }).Worker = GuardedWorker;

// ESM named imports (`import { connect } from 'node:net'`) read these bindings.
nodeModule.syncBuiltinESMExports();
