/**
 * `node main.js --root DIR [--tcp IPV4:PORT]`: a BrokerDaemon on this process's stdin
 * and stdout (for a container or pod beside the sandboxes; the caller attaches to its
 * stdio), with a TCP front when told (sandboxes in other pods). Exits
 * once stdin ends and every session is closed. Shipped also as one self-contained
 * file, dist/broker-daemon.cjs, for a container that has Node but not cordon.
 */
import { parseArgs } from 'node:util';
import { BrokerDaemon } from './broker-daemon.js';

const { values } = parseArgs({ options: { root: { type: 'string' }, tcp: { type: 'string' } } });
const tcp = values.tcp === undefined ? undefined : /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(values.tcp);
if (!values.root || tcp === null) {
  process.stderr.write('usage: main.js --root DIR [--tcp IPV4:PORT]\n');
  process.exit(2);
}
// No top-level await: this module is also bundled as CommonJS (scripts/bundle-daemon.mjs).
void new BrokerDaemon({
  root: values.root,
  input: process.stdin,
  output: process.stdout,
  ...(tcp ? { tcp: { host: tcp[1]!, port: Number(tcp[2]) } } : {}),
})
  .run()
  .then(() => process.exit(0));
