// The build's second step: files tsc does not emit but the package needs next to its modules.
import { copyFileSync } from 'node:fs';

for (const name of ['runner.pl', 'launcher.pl', 'egress-forwarder.pl'])
  copyFileSync(new URL(`../src/${name}`, import.meta.url), new URL(`../dist/${name}`, import.meta.url));
