import { DEFAULT_LIMITS } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import { containerCreateOptions, MASKED_PATHS, type SandboxSpec } from '../src/container-spec.js';

function spec(overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    image: 'cordon-runtime:test',
    runtime: undefined,
    kind: 'node',
    gvisor: false,
    limits: { ...DEFAULT_LIMITS },
    programUid: 1_600_000_123,
    network: 'none',
    openNetwork: 'bridge',
    dns: undefined,
    executorId: 'e1',
    ...overrides,
  };
}

describe('container spec', () => {
  it('starts the supervisor as root with only SETUID, SETGID and KILL, and the program under its own uid', () => {
    const options = containerCreateOptions(spec());
    expect(options.User).toBe('0:0');
    expect(options.Cmd).toEqual([
      'node',
      '--v8-pool-size=1',
      '/opt/cordon/runner/supervisor.cjs',
      '--kind',
      'node',
      '--uid',
      '1600000123',
    ]);
    expect(options.HostConfig).toMatchObject({
      CapDrop: ['ALL'],
      CapAdd: ['SETUID', 'SETGID', 'KILL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Privileged: false,
      CgroupnsMode: 'private',
    });
    expect(options.HostConfig?.Tmpfs?.['/workspace']).toContain('uid=1600000123,gid=1600000123,mode=0700');
    expect(options.Labels?.['cordon.dev/sandbox-uid']).toBe('1600000123');
    // RLIMIT_NPROC under runc would count the uid machine-wide (and root is exempt anyway): the pids cgroup holds.
    expect(options.HostConfig?.Ulimits?.map((limit) => limit.Name)).toEqual(['nofile', 'fsize']);
    expect(options.HostConfig?.PidsLimit).toBe(DEFAULT_LIMITS.pids + 16);
  });

  it("masks the boot id on top of Docker's default masked paths, and hides the pseudo-terminals under runc", () => {
    const options = containerCreateOptions(spec());
    expect(options.HostConfig?.MaskedPaths).toEqual(MASKED_PATHS);
    expect(MASKED_PATHS).toEqual(
      expect.arrayContaining(['/proc/kcore', '/proc/keys', '/sys/firmware', '/proc/sys/kernel/random/boot_id']),
    );
    expect(options.HostConfig?.Tmpfs?.['/dev/pts']).toMatch(/^ro,/);
  });

  it('under gVisor sets pids as RLIMIT_NPROC on the program only, and leaves its own terminals alone', () => {
    const options = containerCreateOptions(
      spec({ gvisor: true, runtime: 'runsc', kind: 'python', limits: { ...DEFAULT_LIMITS, pids: 32 } }),
    );
    expect(options.Cmd).toEqual([
      'node',
      '--v8-pool-size=1',
      '/opt/cordon/runner/supervisor.cjs',
      '--kind',
      'python',
      '--uid',
      '1600000123',
      '--nproc',
      '32',
    ]);
    expect(options.HostConfig?.Ulimits?.map((limit) => limit.Name)).toEqual(['nofile', 'fsize']);
    expect(options.HostConfig?.Tmpfs?.['/dev/pts']).toBeUndefined();
    expect(options.HostConfig?.Runtime).toBe('runsc');
  });

  it("runs conformance controls' programs as root with CAP_NET_RAW, never a caller's", () => {
    const options = containerCreateOptions(spec({ conformanceControl: true, network: 'open' }));
    expect(options.Cmd).toContain('0');
    expect(options.HostConfig?.CapAdd).toEqual(['NET_RAW']);
    expect(options.HostConfig?.Tmpfs?.['/workspace']).toContain('uid=0,gid=0');
  });
});
