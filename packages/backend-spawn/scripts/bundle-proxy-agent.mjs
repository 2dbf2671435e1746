// The build's third step: undici's EnvHttpProxyAgent as one self-contained file, which the
// sandbox receives as data beside egress-dispatcher.cjs (src/egress-dispatcher.cts). One
// file, not undici's ~110: delivered through a pipe per sandbox, no host path is mounted.
import { build } from 'esbuild';
import { COMMONJS_BUNDLE } from '../../../scripts/bundle-commonjs.mjs';

await build({
  ...COMMONJS_BUNDLE,
  stdin: {
    // As undici's index does: the request API (connect among it, which the proxy's tunnels use) on every dispatcher.
    contents: [
      "Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, require('undici/lib/api/index.js'));",
      "module.exports = { EnvHttpProxyAgent: require('undici/lib/dispatcher/env-http-proxy-agent.js') };",
    ].join('\n'),
    resolveDir: new URL('..', import.meta.url).pathname,
    loader: 'js',
  },
  banner: { js: '/*! undici (MIT, https://github.com/nodejs/undici), bundled by @cordon/backend-spawn */' },
  outfile: new URL('../dist/undici-proxy-agent.cjs', import.meta.url).pathname,
});
