import { readdir, readFile, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ignored } from '@cordon/core/backend';
import { advisoryDirPrefix } from './advisory-dir.js';
import { listOwnerCgroups, type CgroupDriver } from './cgroup.js';

/**
 * Everything an owner still holds: execution cgroups (and their tasks), advisory
 * directories and tmpfs mounts, and host-side wrapper processes (tagged with
 * CORDON_SPAWN_OWNER in their environment). Scoped to one owner id; idle pool
 * members (held on purpose while their executor is open), with an allow-list member's
 * forwarder and session dir, are not leftovers.
 */
export async function findLeftovers(
  owner: string,
  cgroups: CgroupDriver | undefined,
  idle: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const found: string[] = [];
  if (cgroups) {
    for (const dir of await listOwnerCgroups(cgroups, owner)) {
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
  const prefix = advisoryDirPrefix(owner);
  for (const name of await readdir(tmpdir()).catch(ignored('spawn.leftovers', () => `list ${tmpdir()}`, []))) {
    if (!name.startsWith(prefix)) continue;
    // An idle allow-list pool member's session dir (sandbox-egress.ts names it `egress-<id>-…`).
    const egressOf = /^egress-([0-9a-z]+)-/.exec(name.slice(prefix.length))?.[1];
    if (egressOf !== undefined && idle.has(egressOf)) continue;
    found.push(`directory ${join(tmpdir(), name)}`);
  }
  const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(
    ignored('spawn.leftovers', 'read /proc/self/mountinfo', ''),
  );
  for (const line of mounts.split('\n'))
    if (line.includes(`cordon-${owner}-`)) found.push(`mount ${line.split(' ')[4] ?? line}`);
  const tag = Buffer.from(`CORDON_SPAWN_OWNER=${owner}/`);
  for (const pid of await readdir('/proc').catch(ignored('spawn.leftovers', 'list /proc', []))) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`).catch(
      ignored('spawn.leftovers', () => `read /proc/${pid}/environ`),
    );
    const marker = environ?.includes(tag)
      ? /CORDON_SPAWN_OWNER=[^/]+\/([0-9a-z-]+)/.exec(environ.toString('latin1'))?.[1]
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

/**
 * Reaps what dead owners left: a process that crashed or was killed cannot remove its
 * cgroups (its sandboxes die with it through --die-with-parent, leaving them empty).
 * Only cgroups with no task go (rmdir refuses a busy one), and only once older than
 * `minAgeMs`, so a live executor's cgroup that is about to receive its process is safe.
 */
export async function reapDeadOwners(driver: CgroupDriver, ownId: string, minAgeMs = 60_000): Promise<string[]> {
  const reaped: string[] = [];
  const now = Date.now();
  // cgroupfs timestamps come from a coarse kernel clock and can sit a tick past Date.now().
  const oldEnough = (age: number) => minAgeMs <= 0 || age >= minAgeMs;
  /** Removes `dir` once it is old enough; kept while young, busy (tasks remain: EBUSY) or gone. */
  const removeIfStale = async (dir: string, what: string): Promise<void> => {
    const age = await stat(dir).then(
      (info) => now - info.mtimeMs,
      ignored('spawn.reaper', () => `stat ${dir}`, 0),
    );
    if (!oldEnough(age)) return;
    const removed = await rmdir(dir).then(
      () => true,
      ignored('spawn.reaper', () => `remove stale ${what} ${dir}`, false),
    );
    if (removed) reaped.push(dir);
  };
  for (const parent of new Set(driver.ownerDirs(ownId).map((dir) => dirname(dir)))) {
    const owners = await readdir(parent, { withFileTypes: true }).catch(
      ignored('spawn.reaper', () => `list ${parent}`, []),
    );
    for (const owner of owners) {
      if (!owner.isDirectory() || owner.name === ownId) continue;
      const ownerDir = join(parent, owner.name);
      const executions = await readdir(ownerDir, { withFileTypes: true }).catch(
        ignored('spawn.reaper', () => `list ${ownerDir}`, []),
      );
      // Executions first: an owner's directory can only go once it is empty.
      for (const execution of executions)
        if (execution.isDirectory()) await removeIfStale(join(ownerDir, execution.name), 'cgroup');
      await removeIfStale(ownerDir, 'owner dir');
    }
  }
  return reaped;
}
