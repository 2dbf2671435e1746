// A caller of the drop-in that never closes it, then waits to be killed: `idle` after
// one run (its warm pool is up), or `running` while a long execution is in progress.
// The test SIGKILLs it and counts what it left on the daemon.
import { DockerExecutor } from '@cordon/backend-docker';

const mode = process.argv[2];
const executor = new DockerExecutor({
  timeout: 120_000,
  ...(process.env.DEMO_IMAGE ? { image: process.env.DEMO_IMAGE } : {}),
});
const first = await executor.executeCode('console.log("first")');
if (first.output !== 'first\n') throw new Error(`the first run failed: ${JSON.stringify(first)}`);
if (mode === 'running') {
  void executor.executeCode('setTimeout(() => {}, 100_000)');
  setTimeout(() => console.log('running'), 1500);
} else {
  setTimeout(() => console.log('idle'), 1500);
}
setInterval(() => {}, 1000);
