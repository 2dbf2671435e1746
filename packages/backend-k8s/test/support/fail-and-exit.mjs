// A caller that dies the moment execute() fails: runs one execution that cannot
// succeed (argv: kubeconfig, namespace, unrestrictedNamespace, image), prints the
// executor's instance id and the error's name, and exits at once, without close().
// Whatever the backend left to do after execute() settled never happens.
import { K8sExecutor } from '../../dist/index.js';

const [kubeconfig, namespace, unrestrictedNamespace, image] = process.argv.slice(2);
const executor = K8sExecutor.create({
  kubeconfig,
  namespace,
  unrestrictedNamespace,
  image,
  poolSize: 0,
  verifyIsolation: false,
  reapIntervalMs: 0,
});
try {
  await executor.execute({ language: 'node', code: 'console.log(1)' });
  process.stdout.write(JSON.stringify({ instanceId: executor.instanceId, error: null }));
} catch (error) {
  process.stdout.write(JSON.stringify({ instanceId: executor.instanceId, error: error?.name ?? String(error) }));
}
process.exit(0);
