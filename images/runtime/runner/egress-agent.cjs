'use strict';
// Preloaded (`--require`) into the Node processes of an allow-list run on docker and
// k8s, where a connection that ignores the proxy settings has no route out (nothing is
// captured there). Node (22.21 and later) sends its global agents through the proxy
// variables under NODE_USE_ENV_PROXY, but an agent a library makes itself (the Stripe
// SDK's keep-alive agents, most HTTP clients') does not read them unless given
// `proxyEnv`: this makes `proxyEnv: process.env` every new agent's default, so such
// libraries reach their listed hosts through the forwarder, as they would through
// spawn's capture. It grants nothing: the broker judges every request either way, and
// an agent given its own `proxyEnv` (or a raw socket) is left as it is.
const http = require('node:http');
const https = require('node:https');

for (const module of [http, https]) {
  const Agent = module.Agent;
  // A Proxy keeps `instanceof`, `Agent.prototype` and subclasses (`class X extends https.Agent`) as they were.
  const proxied = new Proxy(Agent, {
    construct(target, args, newTarget) {
      const [options, ...rest] = args;
      const withProxy =
        options !== null && typeof options === 'object' && 'proxyEnv' in options
          ? options
          : { ...(options ?? {}), proxyEnv: process.env };
      return Reflect.construct(target, [withProxy, ...rest], newTarget);
    },
  });
  module.Agent = proxied;
  // `agent: false` makes `new globalAgent.constructor()` inside Node: that goes through the Proxy too.
  Agent.prototype.constructor = proxied;
}
