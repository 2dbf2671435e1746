import { constants, readFileSync } from 'node:fs';
import { MAX_COLLECT_DEPTH, MAX_COLLECT_ENTRIES, MAX_COLLECT_LISTING_BYTES } from '@cordon/core/backend';
import { builtFile } from './built-file.js';

/** The runner socket's fd in the sandbox's first process. */
export const CONTROL_FD = 3;

/** The runner's file name in its own errors (`cordon runner: … at runner.pl line N`). */
export const RUNNER_FILE_NAME = 'runner.pl';

/**
 * The sandbox's first process (its PID-namespace init in the kernel isolation): Perl, part
 * of every Debian/Ubuntu base system and ~1 ms to start. Its protocol and the order of
 * what it does are described at the top of `runner.pl`, shipped next to this module.
 * Given to `perl -e`, which would call it `-e`: the `#line` directive makes Perl name
 * the file and count its lines from the file's first, so an error's line is the file's.
 */
export const RUNNER_SOURCE = `#line 1 "${RUNNER_FILE_NAME}"\n${readFileSync(builtFile(RUNNER_FILE_NAME), 'utf8')}`;

/** The syscall numbers the runner needs to protect itself, per architecture (kernel syscall tables). */
const RUNNER_SYSCALLS: Partial<Record<NodeJS.Architecture, { prctl: number; prlimit64: number }>> = {
  x64: { prctl: 157, prlimit64: 302 },
  arm64: { prctl: 167, prlimit64: 261 },
};

/** Whether the runner can protect itself on this architecture; elsewhere no sandbox is started. */
export function runnerSupported(arch: NodeJS.Architecture = process.arch): boolean {
  return RUNNER_SYSCALLS[arch] !== undefined;
}

/**
 * RLIMIT_NOFILE (soft and hard) of every process in a sandbox: with at most `pids`
 * processes, one sandbox can hold at most pids × this of the kernel's `fs.file-max`.
 */
export const SANDBOX_OPEN_FILES = 1024;

/** The host's hard RLIMIT_NOFILE, which the sandbox cannot raise: the runner never asks for more. Read once per process. */
function hostOpenFilesHardLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(limits)?.[1];
  return hard === undefined || hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard);
}

/** What the runner sets: SANDBOX_OPEN_FILES, or the host's hard limit where that is lower. */
export const RUNNER_OPEN_FILES = Math.min(SANDBOX_OPEN_FILES, hostOpenFilesHardLimit());

/**
 * The runner's configuration, in its environment (it removes it before the program runs):
 * syscall numbers and open(2) flags of this machine, so the runner loads no Perl module,
 * its open-file limit, and whether it is PID 1 of a namespace of its own (it then kills
 * everything else in it, but only once it has seen its own pid be 1), and core's bounds of a
 * collection's walk (the runtime image's supervisor gets the same in its payload).
 */
export function runnerEnv(params: { pidNamespaceInit: boolean }): Record<string, string> {
  const numbers = RUNNER_SYSCALLS[process.arch];
  if (!numbers) throw new Error(`the sandbox runner has no syscall numbers for ${process.arch}`);
  const config = {
    nr_prctl: numbers.prctl,
    nr_prlimit64: numbers.prlimit64,
    o_directory: constants.O_DIRECTORY,
    o_nofollow: constants.O_NOFOLLOW,
    o_nonblock: constants.O_NONBLOCK,
    nofile: RUNNER_OPEN_FILES,
    pid1: params.pidNamespaceInit ? 1 : 0,
    collect_depth: MAX_COLLECT_DEPTH,
    collect_entries: MAX_COLLECT_ENTRIES,
    collect_listing_bytes: MAX_COLLECT_LISTING_BYTES,
  };
  return {
    CORDON_RUNNER: Object.entries(config)
      .map(([key, value]) => `${key}=${value}`)
      .join(' '),
  };
}

/**
 * With `preboot`, the runner starts Node on the boot script at once, for a node job to
 * come; `env` is what else Node reads at start-up (the job must carry the same values to use it).
 */
export function runnerArgs(
  perlPath: string,
  preboot?: { node: string; bootScript: string; nodeOptions: string; env?: Readonly<Record<string, string>> },
): string[] {
  const startEnv = Object.entries(preboot?.env ?? {}).map(([name, value]) => `${name}=${value}`);
  return [
    perlPath,
    '-e',
    RUNNER_SOURCE,
    ...(preboot ? [preboot.node, preboot.bootScript, preboot.nodeOptions, ...startEnv] : []),
  ];
}
