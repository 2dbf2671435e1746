// The build's second step: files tsc does not emit but the package needs next to its modules.
// The egress forwarder is the runtime image's (docker and k8s run the same one inside
// their sandboxes); images/runtime/runner stays its one source.
import { copyFileSync } from 'node:fs';

for (const name of ['runner.pl', 'launcher.pl'])
  copyFileSync(new URL(`../src/${name}`, import.meta.url), new URL(`../dist/${name}`, import.meta.url));
copyFileSync(
  new URL('../../../images/runtime/runner/egress-forwarder.pl', import.meta.url),
  new URL('../dist/egress-forwarder.pl', import.meta.url),
);
