import { BackendFailureError, parseExecutionRequest } from '@cordon/core';
import { OutputCollector, type RunContext } from '@cordon/core/backend';
import { describe, expect, it } from 'vitest';
import { SandboxProcess } from '../src/sandbox-process.js';

// The host's wait status is the truth: whatever the runner reports is a claim checked
// against how the sandbox process really ended, and a runner that breaks a bound or the
// protocol gets its sandbox killed and the run failed closed. Shown with stand-in runners.
const PRELUDE = `
open(my $c, '+<&=', 3) or exit 125;
sub put { my ($t, $p) = @_; syswrite($c, pack('aN', $t, length($p)) . $p) }
sub take { my ($n) = @_; my $b = ''; while (length($b) < $n) { sysread($c, $b, $n - length($b), length($b)) or exit 125 } $b }
put('W', '');
while (1) { my ($t, $n) = unpack('aN', take(5)); take($n) if $n; last if $t eq 'G' }
put('R', $$);
`;

function runWith(runner: string, collectFiles: string[] = []): Promise<unknown> {
  const sandbox = new SandboxProcess({
    id: 'stand-in',
    // Not detached: a stand-in is a plain child, killed by its pid; no process group is ever signalled here.
    plan: {
      command: 'perl',
      args: ['-e', PRELUDE + runner],
      env: { PATH: '/usr/bin:/bin' },
      cwd: '/',
      statusFd: undefined,
      inputs: [],
      detached: false,
    },
    cgroup: Promise.resolve(undefined),
  });
  const request = parseExecutionRequest({ language: 'bash', code: 'true', collectFiles });
  const context: RunContext = {
    id: 'stand-in',
    request,
    signal: new AbortController().signal,
    stdout: new OutputCollector(1024),
    stderr: new OutputCollector(1024),
  };
  const job = { dirs: [], files: new Map(), env: {}, argv: ['/bin/true'], hold: collectFiles.length > 0 };
  return sandbox.run(context, job).finally(() => sandbox.release());
}

describe('the sandbox process as the host sees it end', () => {
  it('a runner claiming exit 0 that ends with 7 fails the run closed', async () => {
    const run = runWith("put('S', '0'); exit 7;");
    await expect(run).rejects.toBeInstanceOf(BackendFailureError);
    await expect(run).rejects.toThrow(/reported status 0 but ended with 7/);
  });

  it('a runner that ends without a status fails the run closed', async () => {
    await expect(runWith('exit 0;')).rejects.toThrow(/reported no status but ended with 0/);
  });

  it('an agreeing runner gives the status', async () => {
    await expect(runWith("put('S', 3 << 8); exit 3;")).resolves.toMatchObject({ exitCode: 3, signal: null });
  });

  it('an oversized record gets the sandbox killed and the run failed closed', async () => {
    const run = runWith("syswrite($c, pack('aN', 'B', 1 << 30)); sleep 30;");
    await expect(run).rejects.toThrow(/killed: its runner broke the runner protocol: a record of 1073741824 bytes/);
  });

  it('an endless listing gets the sandbox killed and the run failed closed', async () => {
    const run = runWith(
      "put('S', '0'); my $r = pack('aN', 'L', 8 + 60000) . pack('Q>', 1) . ('x' x 60000); syswrite($c, $r) while 1;",
      ['*'],
    );
    await expect(run).rejects.toThrow(/killed: its runner broke the runner protocol: a listing past/);
  });
});
