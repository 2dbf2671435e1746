/**
 * `node main.js --root DIR`: a BrokerDaemon on this process's stdin and stdout (for
 * a container or pod beside the sandboxes; the caller attaches to its stdio). Exits
 * once stdin ends and every session is closed. Shipped also as one self-contained
 * file, dist/broker-daemon.cjs, for a container that has Node but not cordon.
 */
import { parseArgs } from 'node:util';
import { BrokerDaemon } from './broker-daemon.js';

const { values } = parseArgs({ options: { root: { type: 'string' } } });
if (!values.root) {
  process.stderr.write('usage: main.js --root DIR\n');
  process.exit(2);
}
// No top-level await: this module is also bundled as CommonJS (scripts/bundle-daemon.mjs).
void new BrokerDaemon({ root: values.root, input: process.stdin, output: process.stdout })
  .run()
  .then(() => process.exit(0));
