// The build's second step: the broker daemon (src/daemon/main.ts) and everything it
// imports (core's egress contract, zod, dns-packet, read-tls-client-hello) as one
// CommonJS file, so a container or pod with Node but no cordon install can run it:
// a backend copies this single file in, rather than a node_modules tree.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { COMMONJS_BUNDLE } from '../../../scripts/bundle-commonjs.mjs';

/**
 * The broker uses only core's egress contract: bundle that folder, not core's whole
 * root (the backend registry, the CLI's helpers), which would triple the file.
 */
const coreEgressOnly = {
  name: 'core-egress-only',
  setup(context) {
    const egress = fileURLToPath(new URL('egress/index.js', import.meta.resolve('@cordon/core')));
    context.onResolve({ filter: /^@cordon\/core$/ }, () => ({ path: egress }));
  },
};

await build({
  ...COMMONJS_BUNDLE,
  entryPoints: [new URL('../dist/daemon/main.js', import.meta.url).pathname],
  outfile: new URL('../dist/broker-daemon.cjs', import.meta.url).pathname,
  plugins: [coreEgressOnly],
});
