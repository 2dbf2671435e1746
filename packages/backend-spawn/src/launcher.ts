import { readFileSync } from 'node:fs';
import { builtFile } from './built-file.js';

/**
 * What starts a kernel-isolated sandbox from the plan's bubblewrap-style arguments:
 * bubblewrap where it is installed, else cordon's own `launcher.pl` on perl-base, which
 * reads the same arguments and builds the same sandbox (namespaces, the two pivots, the
 * read-only root, capabilities dropped, no-new-privileges, the seccomp filter).
 */
export type LauncherKind = 'bubblewrap' | 'perl';

/** `auto`: bubblewrap where it is installed and works, else the perl launcher. */
export const LAUNCHER_CHOICES = ['auto', 'bubblewrap', 'perl'] as const;
export type LauncherChoice = (typeof LAUNCHER_CHOICES)[number];

export interface Launcher {
  kind: LauncherKind;
  /** The binary spawned (bwrap, or perl). */
  command: string;
  /** Arguments before the plan's own (the launcher's source for perl). */
  prefix: readonly string[];
  /** Added to the launcher process's environment (removed before the runner starts). */
  env: Readonly<Record<string, string>>;
}

const LAUNCHER_FILE_NAME = 'launcher.pl';

/** Given to `perl -e`; the `#line` directive makes Perl's errors name the file and its lines. */
const LAUNCHER_SOURCE = `#line 1 "${LAUNCHER_FILE_NAME}"\n${readFileSync(builtFile(LAUNCHER_FILE_NAME), 'utf8')}`;

type LauncherSyscall = 'unshare' | 'mount' | 'umount2' | 'pivot_root' | 'sethostname' | 'prctl' | 'capset' | 'setsid';

/** From the kernel's syscall tables: arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h (arm64). */
const LAUNCHER_SYSCALLS: Partial<Record<NodeJS.Architecture, Record<LauncherSyscall, number>>> = {
  x64: {
    unshare: 272,
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    sethostname: 170,
    prctl: 157,
    capset: 126,
    setsid: 112,
  },
  arm64: { unshare: 97, mount: 40, umount2: 39, pivot_root: 41, sethostname: 161, prctl: 167, capset: 91, setsid: 157 },
};

export function bubblewrapLauncher(bwrapPath: string): Launcher {
  return { kind: 'bubblewrap', command: bwrapPath, prefix: [], env: {} };
}

/** The perl launcher, or why it cannot run on this architecture. */
export function perlLauncher(perlPath: string, arch: NodeJS.Architecture = process.arch): Launcher | string {
  const numbers = LAUNCHER_SYSCALLS[arch];
  if (!numbers) return `cordon's perl launcher has no syscall numbers for ${arch}`;
  return {
    kind: 'perl',
    command: perlPath,
    prefix: ['-e', LAUNCHER_SOURCE, '--'],
    env: {
      CORDON_LAUNCHER: Object.entries(numbers)
        .map(([name, number]) => `${name}=${number}`)
        .join(' '),
    },
  };
}

/** The command line that runs the plan's arguments under this launcher, behind an optional wrapper. */
export function launcherCommand(
  launcher: Launcher,
  wrapper: readonly string[],
  args: readonly string[],
): { command: string; args: string[] } {
  const full = [...wrapper, launcher.command, ...launcher.prefix, ...args];
  return { command: full[0]!, args: full.slice(1) };
}

/** How `cordon doctor` and `capabilities().notes` name it. */
export function describeLauncher(launcher: Launcher, version?: string): string {
  return launcher.kind === 'bubblewrap'
    ? `launcher ${version ?? 'bubblewrap'} (${launcher.command})`
    : `launcher perl (cordon's launcher.pl on ${launcher.command}; bubblewrap is not used)`;
}
