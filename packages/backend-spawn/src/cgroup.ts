import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionLimits } from '@cordon/core';
import { debug, ignored } from '@cordon/core/backend';

const ROOT = '/sys/fs/cgroup';
/** Every cgroup cordon makes lives under `<controller>/cordon/<owner>/<execution>`. */
const PARENT = 'cordon';
const CPU_PERIOD_US = 100_000;

/** One execution's cgroup(s): created before the program starts, removed after. */
export interface ExecutionCgroup {
  /** `cgroup.procs` files (one per v1 controller). */
  readonly procsFiles: readonly string[];
  /** Moves processes in; done before the sandbox's runner starts any code of the request. */
  attach(pids: readonly number[]): Promise<void>;
  oomKilled(): Promise<boolean>;
  /** SIGKILLs every task until the cgroup is empty. */
  killAll(): Promise<void>;
  /** Kills what is left and removes the directories. */
  remove(): Promise<void>;
}

export interface CgroupDriver {
  readonly version: 'v1' | 'v2';
  /** Creates the owner's parent directories (once per executor). */
  prepareOwner(owner: string): Promise<void>;
  create(owner: string, execution: string, limits: ExecutionLimits): Promise<ExecutionCgroup>;
  /** Directories of this owner (for leftovers and reaping). */
  ownerDirs(owner: string): string[];
}

async function writable(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
    return true;
  } catch (error) {
    debug('spawn.cgroup', () => `${path} not writable`, error);
    return false;
  }
}

/** v1 with memory, pids and cpu mounted and writable, else v2 with those controllers, else none. */
export async function detectCgroups(): Promise<CgroupDriver | undefined> {
  const v1 = ['memory', 'pids', 'cpu'].map((controller) => join(ROOT, controller));
  if ((await Promise.all(v1.map((dir) => writable(join(dir, 'cgroup.procs'))))).every(Boolean)) return new CgroupV1(v1);
  try {
    const controllers = (await readFile(join(ROOT, 'cgroup.controllers'), 'utf8')).split(/\s+/);
    if (
      ['memory', 'pids', 'cpu'].every((name) => controllers.includes(name)) &&
      (await writable(join(ROOT, 'cgroup.subtree_control')))
    ) {
      return new CgroupV2();
    }
    debug('spawn.cgroup', 'v2 lacks memory, pids or cpu, or subtree_control is not writable');
  } catch (error) {
    // No unified hierarchy at the root.
    debug('spawn.cgroup', 'read cgroup.controllers at the root', error);
  }
  debug('spawn.cgroup', 'no usable cgroups: limits are rlimits');
  return undefined;
}

async function killTasks(procsFile: string): Promise<boolean> {
  let pids: string[];
  try {
    pids = (await readFile(procsFile, 'utf8')).split('\n').filter(Boolean);
  } catch (error) {
    // ENOENT once the cgroup is gone: the usual case.
    debug('spawn.cgroup', () => `read ${procsFile}`, error);
    return true;
  }
  for (const pid of pids) {
    // Only a sandbox's own tasks: never init or this process, whatever the file says.
    if (!isSandboxPid(Number(pid))) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch (error) {
      // Already gone.
      debug('spawn.cgroup', () => `kill pid ${pid} of ${procsFile}`, error);
    }
  }
  return pids.length === 0;
}

/** A pid that may be put into, and killed with, a sandbox's cgroup. */
function isSandboxPid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 1 && pid !== process.pid;
}

async function attachAll(procsFiles: readonly string[], pids: readonly number[]): Promise<void> {
  const refused = pids.find((pid) => !isSandboxPid(pid));
  if (refused !== undefined) throw new Error(`pid ${refused} is not a sandbox process`);
  await Promise.all(
    procsFiles.map(async (file) => {
      for (const pid of pids) await writeFile(file, String(pid));
    }),
  );
}

/** Kills and removes, retrying while exiting tasks still pin the cgroup (EBUSY). */
async function killAndRemove(dirs: readonly string[], procsFile: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    await killTasks(procsFile);
    const results = await Promise.allSettled(dirs.map((dir) => rmdir(dir)));
    const busy = results.some(
      (result) => result.status === 'rejected' && (result.reason as NodeJS.ErrnoException).code !== 'ENOENT',
    );
    if (!busy) return;
    await sleep(attempt < 20 ? 2 : 20);
  }
  throw new Error(`could not remove cgroup ${dirs.join(', ')}: tasks would not exit`);
}

async function writeOptional(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (error) {
    // Swap accounting may be off (memsw, swap.max absent).
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

class CgroupV1 implements CgroupDriver {
  readonly version = 'v1';
  readonly #controllers: readonly string[];

  constructor(controllers: readonly string[]) {
    this.#controllers = controllers;
  }

  ownerDirs(owner: string): string[] {
    return this.#controllers.map((dir) => join(dir, PARENT, owner));
  }

  async prepareOwner(owner: string): Promise<void> {
    await Promise.all(this.ownerDirs(owner).map((dir) => mkdir(dir, { recursive: true })));
  }

  async create(owner: string, execution: string, limits: ExecutionLimits): Promise<ExecutionCgroup> {
    const [memory, pids, cpu] = this.ownerDirs(owner).map((dir) => join(dir, execution)) as [string, string, string];
    const dirs = [memory, pids, cpu];
    // Recursive: another executor of this owner may have removed the owner directory on close.
    await Promise.all(dirs.map((dir) => mkdir(dir, { recursive: true })));
    const procsFiles = dirs.map((dir) => join(dir, 'cgroup.procs'));
    const group: ExecutionCgroup = {
      procsFiles,
      attach: (pids) => attachAll(procsFiles, pids),
      oomKilled: async () => {
        const control = await readFile(join(memory, 'memory.oom_control'), 'utf8').catch(
          ignored('spawn.cgroup', () => `read ${memory}/memory.oom_control`, ''),
        );
        const kills = /oom_kill (\d+)/.exec(control);
        if (kills) return Number(kills[1]) > 0;
        return (
          Number(
            await readFile(join(memory, 'memory.failcnt'), 'utf8').catch(
              ignored('spawn.cgroup', () => `read ${memory}/memory.failcnt`, '0'),
            ),
          ) > 0
        );
      },
      killAll: async () => {
        for (let attempt = 0; attempt < 100 && !(await killTasks(join(pids, 'cgroup.procs'))); attempt++)
          await sleep(2);
      },
      remove: () => killAndRemove(dirs, join(pids, 'cgroup.procs')),
    };
    try {
      const bytes = String(limits.memoryBytes);
      await Promise.all([
        writeFile(join(memory, 'memory.limit_in_bytes'), bytes).then(() =>
          writeOptional(join(memory, 'memory.memsw.limit_in_bytes'), bytes),
        ),
        writeFile(join(pids, 'pids.max'), String(limits.pids)),
        // New cgroups start with the default 100 ms period.
        writeFile(join(cpu, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US)))),
      ]);
    } catch (error) {
      await group
        .remove()
        .catch(ignored('spawn.cgroup', () => `remove ${memory}, ${pids}, ${cpu} after a failed limit write`));
      throw error;
    }
    return group;
  }
}

/** cgroup v2 (unified). Not exercised on the cgroup-v1 machine this was written on; see README. */
class CgroupV2 implements CgroupDriver {
  readonly version = 'v2';

  ownerDirs(owner: string): string[] {
    return [join(ROOT, PARENT, owner)];
  }

  async prepareOwner(owner: string): Promise<void> {
    const parent = join(ROOT, PARENT);
    const ownerDir = join(parent, owner);
    await mkdir(ownerDir, { recursive: true });
    // Controllers must be enabled on each level above the leaf.
    for (const dir of [ROOT, parent, ownerDir])
      await writeFile(join(dir, 'cgroup.subtree_control'), '+memory +pids +cpu');
  }

  async create(owner: string, execution: string, limits: ExecutionLimits): Promise<ExecutionCgroup> {
    const dir = join(ROOT, PARENT, owner, execution);
    try {
      await mkdir(dir);
    } catch (error) {
      // Another executor of this owner removed the owner directory on close.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await this.prepareOwner(owner);
      await mkdir(dir);
    }
    const procs = join(dir, 'cgroup.procs');
    const killAll = async () => {
      await writeOptional(join(dir, 'cgroup.kill'), '1');
      for (let attempt = 0; attempt < 100 && !(await killTasks(procs)); attempt++) await sleep(2);
    };
    const group: ExecutionCgroup = {
      procsFiles: [procs],
      attach: (pids) => attachAll([procs], pids),
      oomKilled: async () => {
        const events = await readFile(join(dir, 'memory.events'), 'utf8').catch(
          ignored('spawn.cgroup', () => `read ${dir}/memory.events`, ''),
        );
        return Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0) > 0;
      },
      killAll,
      remove: async () => {
        await killAll();
        await killAndRemove([dir], procs);
      },
    };
    try {
      await Promise.all([
        writeFile(join(dir, 'memory.max'), String(limits.memoryBytes)),
        writeOptional(join(dir, 'memory.swap.max'), '0'),
        writeFile(join(dir, 'pids.max'), String(limits.pids)),
        writeFile(join(dir, 'cpu.max'), `${Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US))} ${CPU_PERIOD_US}`),
      ]);
    } catch (error) {
      await group.remove().catch(ignored('spawn.cgroup', () => `remove ${dir} after a failed limit write`));
      throw error;
    }
    return group;
  }
}

/** Execution cgroups of an owner that still exist. */
export async function listOwnerCgroups(driver: CgroupDriver, owner: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of driver.ownerDirs(owner)) {
    const entries = await readdir(dir, { withFileTypes: true }).catch(ignored('spawn.cgroup', () => `list ${dir}`, []));
    for (const entry of entries) if (entry.isDirectory()) found.push(join(dir, entry.name));
  }
  return found;
}

/**
 * Removes the owner's parent directories when an executor closes. Only empty
 * ones go: another executor of the same process may still be running in them.
 */
export async function removeOwnerDirs(driver: CgroupDriver, owner: string): Promise<void> {
  // Busy (another executor's cgroups) or already gone is normal; logged for reap questions.
  await Promise.all(
    driver.ownerDirs(owner).map((dir) => rmdir(dir).catch(ignored('spawn.cgroup', () => `remove owner dir ${dir}`))),
  );
}
