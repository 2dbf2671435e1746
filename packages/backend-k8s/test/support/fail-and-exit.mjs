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
  // cordon's image with its supervisor removed: said to be cordon's, so no probe pod
  // takes it for a user's image (which would get the runner sent in, and work).
  imageKind: 'cordon',
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
