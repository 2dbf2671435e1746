import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtFile } from './built-file.js';

/**
 * Files of this package that a kernel-isolated sandbox sees, as contents rather than
 * paths: bubblewrap copies each from a pipe (`--file`), so no host path of ours shows
 * in the sandbox's mount table, and the sandbox uid needs no access to our install
 * directory. Read once per process.
 */
const ETC_DIR = fileURLToPath(new URL('../etc/', import.meta.url));

/** The package's own /etc files: passwd and group naming the sandbox user, hosts, nsswitch.conf. */
export const ETC_FILES: ReadonlyMap<string, Buffer> = new Map(
  ['passwd', 'group', 'hosts', 'nsswitch.conf'].map((name) => [name, readFileSync(ETC_DIR + name)]),
);

export const GUARD_FILE = builtFile('network-guard.cjs');
export const GUARD_SOURCE = readFileSync(GUARD_FILE);
export const BOOT_SOURCE = readFileSync(builtFile('node-boot.cjs'));
/** Under an allow-list: the preload that points `fetch` at the proxy, and the undici bundle it loads. */
export const DISPATCHER_SOURCE = readFileSync(builtFile('egress-dispatcher.cjs'));
export const PROXY_AGENT_SOURCE = readFileSync(builtFile('undici-proxy-agent.cjs'));

/** A boot id of the sandbox's own (the host's would identify the machine and its boot). */
export function sandboxBootId(): Buffer {
  return Buffer.from(`${randomUUID()}\n`);
}
