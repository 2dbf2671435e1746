import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BackendUnavailableError } from '@cordon/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perlLauncher } from '../src/launcher.js';
import { SpawnExecutor } from '../src/index.js';
import { expectedLauncher } from './expected-launcher.js';
import { leftoversOf } from './helpers.js';

/** What code inside sees of its sandbox: mounts, devices, ids, capabilities, environment. */
const VIEW = `
const fs = require('fs');
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (name) => new RegExp('^' + name + ':\\\\s*(.*)$', 'm').exec(status)[1];
console.log(JSON.stringify({
  mounts: fs.readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\\n').map((line) => {
    const f = line.split(' ');
    return [f[4], f[5], f[f.indexOf('-') + 1]].join(' ');
  }),
  root: fs.readdirSync('/').sort(),
  dev: fs.readdirSync('/dev').sort(),
  etc: fs.readdirSync('/etc').sort(),
  ids: [process.getuid(), process.getgid(), process.getgroups()],
  pid: process.pid,
  hostname: require('os').hostname(),
  cwd: process.cwd(),
  env: Object.keys(process.env).sort(),
  caps: ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'].map(field),
  noNewPrivs: field('NoNewPrivs'),
  seccomp: field('Seccomp'),
  network: fs.readFileSync('/proc/net/dev', 'utf8').split('\\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0]),
  bootIdIsHost: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8') === process.env.HOST_BOOT_ID,
  tmp: fs.readlinkSync('/tmp'),
  writable: ['/', '/usr', '/etc', '/dev', '/sandbox/work', '/sandbox/tmp', '/dev/shm'].map((p) => {
    try { fs.writeFileSync(p + '/.w', ''); fs.unlinkSync(p + '/.w'); return p + ' rw'; } catch (e) { return p + ' ' + e.code; }
  }),
}));`;

async function view(executor: SpawnExecutor): Promise<Record<string, unknown>> {
  const { readFile } = await import('node:fs/promises');
  const hostBootId = await readFile('/proc/sys/kernel/random/boot_id', 'utf8');
  const result = await executor.execute({ language: 'node', code: VIEW, env: { HOST_BOOT_ID: hostBootId } });
  expect(result.status, result.stderr).toBe('ok');
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

let perl: SpawnExecutor;
beforeAll(async () => {
  perl = await SpawnExecutor.create({ isolation: 'kernel', launcher: 'perl' });
});
afterAll(async () => {
  await perl?.close();
});

describe('the perl launcher (kernel isolation without bubblewrap)', () => {
  it('is chosen when asked for, and named in capabilities()', () => {
    expect(perl.launcher).toBe('perl');
    expect(perl.capabilities().notes?.[0]).toMatch(/^kernel isolation: launcher perl/);
  });

  it('drops every capability, sets no-new-privileges, loads the seccomp filter, as a mapped non-root user', async () => {
    const seen = await view(perl);
    expect(seen).toMatchObject({
      ids: [65534, 65534, [65534]],
      pid: 2,
      hostname: 'cordon',
      cwd: '/sandbox/work',
      caps: Array(5).fill('0000000000000000'),
      noNewPrivs: '1',
      seccomp: '2',
      network: ['lo'],
      bootIdIsHost: false,
      tmp: '/sandbox/tmp',
    });
    expect(seen.writable).toEqual([
      '/ EROFS',
      '/usr EROFS',
      '/etc EROFS',
      '/dev EROFS',
      '/sandbox/work rw',
      '/sandbox/tmp rw',
      '/dev/shm rw',
    ]);
    expect(await leftoversOf(perl)).toEqual([]);
  });

  // Needs both launchers on one host: CI's first spawn run has bubblewrap; its second masks it.
  it.skipIf(expectedLauncher() !== 'bubblewrap')(
    'builds the same sandbox as bubblewrap (needs bubblewrap installed)',
    async () => {
      const bubblewrap = await SpawnExecutor.create({ isolation: 'kernel', launcher: 'bubblewrap' });
      try {
        expect(bubblewrap.launcher).toBe('bubblewrap');
        const [withPerl, withBubblewrap] = [await view(perl), await view(bubblewrap)];
        // bubblewrap mounts a devpts at /dev/pts that the plan then covers with an empty read-only
        // tmpfs; the perl launcher mounts none, so that hidden mount is the one difference.
        const mounts = (seen: Record<string, unknown>) =>
          (seen.mounts as string[]).filter((line) => !line.endsWith(' devpts'));
        expect(mounts(withPerl)).toEqual(mounts(withBubblewrap));
        expect({ ...withPerl, mounts: undefined }).toEqual({ ...withBubblewrap, mounts: undefined });
      } finally {
        await bubblewrap.close();
      }
    },
  );

  it('refuses kernel isolation when the launcher asked for is missing (fail closed)', async () => {
    const refusal = SpawnExecutor.create({
      isolation: 'kernel',
      launcher: 'bubblewrap',
      bwrapPath: '/nonexistent/bwrap',
    });
    await expect(refusal).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(refusal).rejects.toThrow(/bubblewrap \(bwrap\) is not installed/);
  });

  it('has no syscall numbers, so is not offered, on an architecture it was not written for', () => {
    expect(perlLauncher('/usr/bin/perl', 'ia32')).toMatch(/no syscall numbers for ia32/);
  });

  it('refuses an argument it does not know, before creating anything', async () => {
    const launcher = perlLauncher('/usr/bin/perl');
    if (typeof launcher === 'string') throw new Error(launcher);
    const run = promisify(execFile)(launcher.command, [...launcher.prefix, '--bind', '/', '/', '--', '/bin/true'], {
      env: { ...launcher.env },
    });
    const failure = (await run.then(
      () => undefined,
      (error: unknown) => error,
    )) as { code?: number; stderr?: string } | undefined;
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/^cordon launcher: unknown argument --bind at launcher.pl line \d+\n$/);
  });
});
