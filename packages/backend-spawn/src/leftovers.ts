import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { advisoryDirPrefix } from './advisory-dir.js';
import { listSessionCgroups, type CgroupDriver } from './cgroup.js';
import { ignored } from '@cordon/core/backend';

/**
 * Everything a session still holds: execution cgroups (and their tasks), advisory
 * directories and tmpfs mounts, and host-side wrapper processes (tagged with
 * CORDON_SPAWN_SESSION in their environment). Scoped to one session id; idle pool
 * members (held on purpose while their executor is open) are not leftovers.
 */
export async function findLeftovers(
  session: string,
  cgroups: CgroupDriver | undefined,
  idle: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const found: string[] = [];
  if (cgroups) {
    for (const dir of await listSessionCgroups(cgroups, session)) {
      if (idle.has(basename(dir))) continue;
      const tasks = (
        await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(
          ignored('spawn.leftovers', () => `read ${dir}/cgroup.procs`, ''),
        )
      )
        .split('\n')
        .filter(Boolean);
      found.push(`cgroup ${dir}${tasks.length > 0 ? ` (tasks ${tasks.join(', ')})` : ''}`);
    }
  }
  const prefix = advisoryDirPrefix(session);
  for (const name of await readdir(tmpdir()).catch(ignored('spawn.leftovers', () => `list ${tmpdir()}`, []))) {
    if (name.startsWith(prefix)) found.push(`directory ${join(tmpdir(), name)}`);
  }
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(
    ignored('spawn.leftovers', 'read /proc/self/mountinfo', ''),
  );
  for (const line of mounts.split('\n'))
    if (line.includes(`cordon-${session}-`)) found.push(`mount ${line.split(' ')[4] ?? line}`);
  const tag = Buffer.from(`CORDON_SPAWN_SESSION=${session}/`);
  for (const pid of await readdir('/proc').catch(ignored('spawn.leftovers', 'list /proc', []))) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`).catch(
      ignored('spawn.leftovers', () => `read /proc/${pid}/environ`),
    );
    const marker = environ?.includes(tag)
      ? /CORDON_SPAWN_SESSION=[^/]+\/([0-9a-z-]+)/.exec(environ.toString('latin1'))?.[1]
      : undefined;
    if (marker !== undefined && !idle.has(marker)) {
      const cmdline = (
        await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(
          ignored('spawn.leftovers', () => `read /proc/${pid}/cmdline`, ''),
        )
      )
        .split('\0')
        .join(' ')
        .slice(0, 120);
      found.push(`process ${pid} ${cmdline}`);
    }
  }
  return found;
}
