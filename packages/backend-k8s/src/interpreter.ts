import { InvalidRequestError } from '@cordon/core';

/**
 * Which interpreter of the pod's image runs cordon's own small programs (the network
 * gate, the isolation check's canary and senders): a user's image may have `node`,
 * `python3`, or both.
 */
export type Interpreter = 'node' | 'python';
export const INTERPRETERS: readonly Interpreter[] = ['node', 'python'];

/** Throws InvalidRequestError naming `field` unless `value` is an Interpreter. */
export function checkInterpreter(field: string, value: unknown): Interpreter {
  if (typeof value === 'string' && (INTERPRETERS as readonly string[]).includes(value)) return value as Interpreter;
  throw new InvalidRequestError(field, value, `must be one of ${INTERPRETERS.join(', ')}`);
}

/**
 * The argv that runs `source` with the image's interpreter. Python gets `-I -S`:
 * isolated mode ignores the image's PYTHON* variables and user site, and no `site`
 * import keeps its site-packages (and any .pth code in them) out.
 */
export function interpreterCommand(interpreter: Interpreter, source: string): string[] {
  return interpreter === 'node' ? ['node', '-e', source] : ['python3', '-I', '-S', '-c', source];
}
