import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A file shipped next to the built modules (a compiled `.cjs`, the runner's `.pl`).
 * From source (vitest) the file beside this module, else the copy in dist.
 */
export function builtFile(name: string): string {
  const here = fileURLToPath(new URL(`./${name}`, import.meta.url));
  return existsSync(here) ? here : fileURLToPath(new URL(`../dist/${name}`, import.meta.url));
}
