import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OWNER_ID } from '@cordon/core/backend';
import { describe, expect, it } from 'vitest';
import { detectCgroups, removeOwnerDirs } from '../src/cgroup.js';
import { reapDeadOwners } from '../src/reaper.js';

const driver = await detectCgroups();

describe.runIf(driver !== undefined)('reaping cgroups of dead owners', () => {
  it('removes empty cgroups another owner left, keeps busy ones and its own', async () => {
    const cgroups = driver!;
    const dead = `dead${Date.now().toString(16)}`;
    const busy = `busy${Date.now().toString(16)}`;
    await cgroups.prepareOwner(OWNER_ID);
    const deadDirs = cgroups.ownerDirs(dead).map((dir) => join(dir, 'exec1'));
    const busyDirs = cgroups.ownerDirs(busy).map((dir) => join(dir, 'exec1'));
    await Promise.all([...deadDirs, ...busyDirs].map((dir) => mkdir(dir, { recursive: true })));
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      for (const dir of busyDirs) await writeFile(join(dir, 'cgroup.procs'), String(sleeper.pid));
      const reaped = await reapDeadOwners(cgroups, OWNER_ID, 0);
      for (const dir of deadDirs) {
        expect(existsSync(dir)).toBe(false);
        expect(reaped).toContain(dir);
      }
      for (const dir of busyDirs) expect(existsSync(dir)).toBe(true);
      for (const dir of cgroups.ownerDirs(OWNER_ID)) expect(existsSync(dir)).toBe(true);
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
      await reapDeadOwners(cgroups, OWNER_ID, 0);
      await removeOwnerDirs(cgroups, OWNER_ID);
    }
    for (const dir of busyDirs) expect(existsSync(dir)).toBe(false);
  });
});
