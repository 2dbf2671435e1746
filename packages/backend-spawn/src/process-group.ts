import { readFileSync } from 'node:fs';
import { debug } from '@cordon/core/backend';

/**
 * Signalling a process group from the host (the advisory isolation, where there is no PID
 * namespace to kill). A group id is never taken on anyone's word: `kill(-1)` reaches
 * every process the host may signal (as root: the whole machine) and `kill(-0)` the
 * host's own group, so only a group this module has just seen led by a direct child of
 * ours (or of our runner) is signalled.
 */

interface ProcStat {
  parentPid: number;
  groupId: number;
}

/** ppid and pgrp from `/proc/<pid>/stat` (the fields after the command name, which may hold spaces and parentheses). */
function procStat(pid: number): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (error) {
    debug('spawn.process', () => `read /proc/${pid}/stat`, error);
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const parentPid = Number(fields[1]);
  const groupId = Number(fields[2]);
  return Number.isInteger(parentPid) && Number.isInteger(groupId) ? { parentPid, groupId } : undefined;
}

/** The host's own process group: never a target. */
const OWN_GROUP = procStat(process.pid)?.groupId;

/**
 * `pid` when it is, right now, a child of `parentPid` that leads its own process group;
 * else undefined. What the runner says its program's pid is only counts once this holds.
 */
export function childGroupLeader(params: { pid: number; parentPid: number }): number | undefined {
  const { pid, parentPid } = params;
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return undefined;
  const stat = procStat(pid);
  return stat && stat.parentPid === parentPid && stat.groupId === pid ? pid : undefined;
}

/** SIGKILLs the group led by `groupId`; refuses 0, 1, negative ids and the host's own group. */
export function killGroup(groupId: number): void {
  if (!Number.isSafeInteger(groupId) || groupId <= 1 || groupId === process.pid || groupId === OWN_GROUP) return;
  try {
    process.kill(-groupId, 'SIGKILL');
  } catch (error) {
    // Group already gone (ESRCH, the usual case).
    debug('spawn.process', () => `kill process group ${groupId}`, error);
  }
}
