import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advisoryDirPrefix } from './advisory-dir.js';
import { listSessionCgroups, type CgroupDriver } from './cgroup.js';

/**
 * Everything a session still holds: execution cgroups (and their tasks), advisory
 * directories and tmpfs mounts, and host-side wrapper processes (tagged with
 * CORDON_SPAWN_SESSION in their environment). Scoped to one session id.
 */
export async function findLeftovers(session: string, cgroups: CgroupDriver | undefined): Promise<string[]> {
  const found: string[] = [];
  if (cgroups) {
    for (const dir of await listSessionCgroups(cgroups, session)) {
      const tasks = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
      found.push(`cgroup ${dir}${tasks.length > 0 ? ` (tasks ${tasks.join(', ')})` : ''}`);
    }
  }
  const prefix = advisoryDirPrefix(session);
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (name.startsWith(prefix)) found.push(`directory ${join(tmpdir(), name)}`);
  }
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  for (const line of mounts.split('\n')) if (line.includes(`cordon-${session}-`)) found.push(`mount ${line.split(' ')[4] ?? line}`);
  const tag = Buffer.from(`CORDON_SPAWN_SESSION=${session}/`);
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`).catch(() => undefined);
    if (environ?.includes(tag)) {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').slice(0, 120);
      found.push(`process ${pid} ${cmdline}`);
    }
  }
  return found;
}
