import { afterEach, describe, expect, it } from 'vitest';
import { encodeFileRequest, encodeJob, encodeRecord, type RunnerJob } from '../src/runner-records.js';
import { advisoryRunnerConfig, DirectRunner, runnerLine, type RunnerEnd } from './direct-runner.js';

// runner.pl driven with plain perl, no bubblewrap: the runner socket on fd 3 as the host
// gives it, the advisory configuration (pid1=0: the runner never runs `kill -1`, which
// outside a PID namespace of its own would reach every process of its uid, as root the
// machine's), as a leased throwaway uid when root.
let runners: DirectRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.map((runner) => runner.dispose()));
  runners = [];
});

async function started(config?: string): Promise<DirectRunner> {
  const runner = await DirectRunner.start(config);
  runners.push(runner);
  return runner;
}

function job(argv: string[], hold = false): RunnerJob {
  return { dirs: [], files: new Map(), env: { PATH: '/usr/bin:/bin' }, argv, hold };
}

/** W, the job, R <pid>, S <status>: the records' types and the status. */
async function runToStatus(runner: DirectRunner, sent: RunnerJob): Promise<{ types: string[]; status: number }> {
  const types: string[] = [];
  const waiting = await runner.next();
  types.push(waiting!.type);
  runner.send(...encodeJob(sent));
  const startedRecord = await runner.next();
  types.push(startedRecord!.type);
  expect(startedRecord!.payload.toString()).toMatch(/^\d+$/);
  const status = await runner.next();
  types.push(status!.type);
  return { types, status: Number(status!.payload.toString()) };
}

/** The runner's one error line: what failed, and the line of runner.pl it names. */
function runnerError(end: RunnerEnd): { what: string; line: number } {
  const match = /^cordon runner: (.+) at runner\.pl line (\d+)\n$/.exec(end.stderr);
  expect(match, `stderr: ${JSON.stringify(end.stderr)}`).not.toBeNull();
  return { what: match![1]!, line: Number(match![2]) };
}

describe('runner.pl without bubblewrap', () => {
  it('is configured for the advisory isolation: never PID 1', () => {
    expect(advisoryRunnerConfig().split(' ')).toContain('pid1=0');
  });

  it('runs as a throwaway uid when root', async () => {
    const runner = await started();
    if (process.getuid?.() === 0) expect(runner.uid).toBeGreaterThanOrEqual(1_600_000_000);
  });

  it('says W, R, S for a program that exits 7, then exits 7 at the host EOF', async () => {
    const runner = await started();
    const { types, status } = await runToStatus(runner, job(['/bin/sh', '-c', 'exit 7']));
    expect(types).toEqual(['W', 'R', 'S']);
    expect(status).toBe(7 << 8);
    runner.end();
    const end = await runner.ended;
    expect([end.code, end.stderr]).toEqual([7, '']);
  });

  it('reports a program killed by a signal as its raw status, and exits 128+n', async () => {
    const runner = await started();
    const { types, status } = await runToStatus(runner, job(['/bin/sh', '-c', 'kill -TERM $$']));
    expect(types).toEqual(['W', 'R', 'S']);
    expect(status).toBe(15);
    runner.end();
    expect((await runner.ended).code).toBe(128 + 15);
  });

  it('refuses a job record of unknown type: exit 124 and the line that refused it', async () => {
    const runner = await started();
    expect((await runner.next())?.type).toBe('W');
    runner.send(encodeRecord('X', 'secret-payload'));
    const end = await runner.ended;
    expect(end.code).toBe(124);
    const { what, line } = runnerError(end);
    expect(what).toBe('a job record of unknown type 0x58');
    expect(runnerLine(line)).toContain("fail(124, 'a job record of unknown type '");
    expect(end.stderr).not.toContain('secret-payload');
  });

  it('refuses a job cut off inside a record: exit 125 and the line that noticed', async () => {
    const runner = await started();
    expect((await runner.next())?.type).toBe('W');
    runner.send(encodeRecord('E', 'KEY=secret-value').subarray(0, 9));
    runner.end();
    const end = await runner.ended;
    expect(end.code).toBe(125);
    const { what, line } = runnerError(end);
    expect(what).toBe('the runner socket ended inside a record');
    expect(runnerLine(line)).toContain("fail(125, 'the runner socket ended inside a record')");
    expect(end.stderr).not.toContain('secret');
  });

  it('refuses a configuration without a field: exit 125, naming the field and the line', async () => {
    const config = advisoryRunnerConfig()
      .split(' ')
      .filter((field) => !field.startsWith('nofile='))
      .join(' ');
    const runner = await started(config);
    const end = await runner.ended;
    expect(end.code).toBe(125);
    const { what, line } = runnerError(end);
    expect(what).toBe('CORDON_RUNNER has no numeric nofile');
    expect(runnerLine(line)).toContain('fail(125, "CORDON_RUNNER has no numeric $_")');
  });

  it('lists the working directory after the status, a link as a link, and never serves through it', async () => {
    const runner = await started();
    const script = 'mkdir sub && printf hello > a.txt && printf deep > sub/b.txt && ln -s /etc/passwd link';
    const { status } = await runToStatus(runner, job(['/bin/sh', '-c', script], true));
    expect(status).toBe(0);
    const listing: string[] = [];
    for (let record = await runner.next(); record?.type !== 'M'; record = await runner.next()) {
      expect(record).toBeDefined();
      const { type, payload } = record!;
      listing.push(
        type === 'L'
          ? `L ${payload.readBigUInt64BE(0)} ${payload.subarray(8).toString()}`
          : `${type} ${payload.toString()}`,
      );
    }
    expect(listing.sort()).toEqual(['L 4 sub/b.txt', 'L 5 a.txt', 'N llink']);

    const served: string[] = [];
    for (const path of ['a.txt', 'link', '../a.txt']) {
      runner.send(encodeFileRequest(Buffer.from(path), 1024));
      for (let record = await runner.next(); ; record = await runner.next()) {
        const { type, payload } = record!;
        served.push(type === 'O' ? `O ${payload.readBigUInt64BE(0)}` : `${type} ${payload.toString()}`.trimEnd());
        if (type === 'Z' || type === 'V') break;
      }
    }
    expect(served).toEqual(['O 5', 'B hello', 'Z', 'V could not be opened', 'V not a plain path']);
    runner.end();
    expect((await runner.ended).code).toBe(0);
  });
});
