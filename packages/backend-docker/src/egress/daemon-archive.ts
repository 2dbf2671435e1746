import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pack } from 'tar-stream';

/** Where the broker container finds the daemon (its root file system is its own, and writable). */
export const DAEMON_DIR = '/opt/cordon-broker';
export const DAEMON_FILE = `${DAEMON_DIR}/broker-daemon.cjs`;

let archive: Promise<Buffer> | undefined;

/**
 * The egress broker daemon (@cordon/egress-broker's one-file bundle) as a tar archive
 * for `putArchive`: the image needs only Node, and a remote daemon gets the file
 * over the API, as it gets everything else. Built once per process.
 */
export function daemonArchive(): Promise<Buffer> {
  archive ??= new Promise<Buffer>((resolve, reject) => {
    const bundle = readFileSync(createRequire(import.meta.url).resolve('@cordon/egress-broker/broker-daemon.cjs'));
    const tar = pack();
    const chunks: Buffer[] = [];
    tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    tar.on('end', () => resolve(Buffer.concat(chunks)));
    tar.on('error', reject);
    tar.entry({ name: DAEMON_DIR.slice(1), type: 'directory', mode: 0o755 });
    tar.entry({ name: DAEMON_FILE.slice(1), mode: 0o444 }, bundle);
    tar.finalize();
  });
  return archive;
}
