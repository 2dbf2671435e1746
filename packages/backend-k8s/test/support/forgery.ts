import { readFileSync } from 'node:fs';

/**
 * The programs of images/runtime/test/attacks: each tries to forge the runner's
 * result as issue 10 reproduced it (the nonce from the runner's frames, its patched
 * fs.writeSync, its memory through /proc/<pid>/mem), and prints what it found.
 */
const ATTACKS = new URL('../../../../images/runtime/test/attacks/', import.meta.url);

/** The files every forged trailer claims: a traversal and an absolute path. */
export const FORGED_PATHS = ['../../etc/evil', '/etc/evil-abs'] as const;

export function attackProgram(name: string, placeholders: Record<string, string> = {}): string {
  let source = readFileSync(new URL(name, ATTACKS), 'utf8');
  // Python string literal of forge.py's source (JSON's escapes are valid Python).
  source = source.replaceAll("'__FORGE__'", JSON.stringify(readFileSync(new URL('forge.py', ATTACKS), 'utf8')));
  for (const [key, value] of Object.entries(placeholders)) source = source.replaceAll(key, value);
  return source;
}

export const PYTHON_FRAME_FORGERY = attackProgram('python-frame-forgery.py');
export const NODE_WRITESYNC_FORGERY = attackProgram('node-writesync-forgery.js');
export const BASH_PROC_MEM_FORGERY = attackProgram('bash-proc-mem-forgery.sh');
export const pythonHugeTrailer = (mib: number) => attackProgram('python-huge-trailer.py', { __MIB__: String(mib) });
