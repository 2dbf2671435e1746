import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childGroupLeader } from '../src/process-group.js';

// The advisory isolation signals the program's process group by the pid its runner reports:
// a claim, checked before any group is signalled. Only the check is exercised here; no
// test signals a process group (a wrong one could be the whole machine's).
describe('childGroupLeader', () => {
  it('refuses pids that are no child of ours leading a group: 0, 1, negative, our own', () => {
    for (const pid of [0, 1, -1, Number.NaN, process.pid])
      expect(childGroupLeader({ pid, parentPid: process.pid })).toBeUndefined();
  });

  it('takes a detached child (its own group) and nothing else', () => {
    const leader = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const member = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect(childGroupLeader({ pid: leader.pid!, parentPid: process.pid })).toBe(leader.pid);
      expect(childGroupLeader({ pid: leader.pid!, parentPid: process.pid + 1 })).toBeUndefined();
      // In our own process group: not a group of its own.
      expect(childGroupLeader({ pid: member.pid!, parentPid: process.pid })).toBeUndefined();
    } finally {
      leader.kill('SIGKILL');
      member.kill('SIGKILL');
    }
  });
});
