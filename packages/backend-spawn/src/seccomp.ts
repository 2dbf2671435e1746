/**
 * A seccomp deny-list for the kernel isolation, compiled here to classic BPF (the form
 * bubblewrap's `--seccomp FD` loads). Defence in depth under the namespaces: the
 * sandbox has no capabilities and an empty network namespace already; this takes
 * away kernel interfaces that are large attack surface and that no interpreter
 * needs (io_uring, eBPF, perf events, userfaultfd, the kernel keyring, module and
 * kexec loading, mounting, namespaces, file handles), the calls that reach into
 * another process of the same uid (ptrace, process_vm_*, pidfd_getfd, kcmp: the
 * runner is one), and Linux AIO, whose contexts are a machine-wide count. A denied call fails with
 * EPERM; a call made through another ABI (32-bit on x86_64, x32) kills the process.
 */

/** Syscalls denied, by name; numbers per architecture below. */
export const DENIED_SYSCALLS = [
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'keyctl',
  'add_key',
  'request_key',
  'init_module',
  'finit_module',
  'delete_module',
  'kexec_load',
  'kexec_file_load',
  'mount',
  'umount2',
  'pivot_root',
  'unshare',
  'setns',
  'open_by_handle_at',
  'name_to_handle_at',
  'reboot',
  'swapon',
  'swapoff',
  // Reaching another process of the same uid (the runner): its memory, its descriptors, comparisons of its files.
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'pidfd_getfd',
  'kcmp',
  // Linux AIO contexts count against the machine-wide fs.aio-max-nr: one sandbox could take them all.
  'io_setup',
] as const;

type DeniedSyscall = (typeof DENIED_SYSCALLS)[number];

interface ArchTable {
  /** AUDIT_ARCH_* as seccomp_data.arch reports it. */
  auditArch: number;
  /** Syscall numbers at or above this belong to another ABI on the same arch (x32). */
  foreignAbiFrom: number | undefined;
  numbers: Record<DeniedSyscall, number>;
}

// From the kernel's syscall tables: arch/x86/entry/syscalls/syscall_64.tbl and
// include/uapi/asm-generic/unistd.h (arm64).
const ARCHES: Partial<Record<NodeJS.Architecture, ArchTable>> = {
  x64: {
    auditArch: 0xc000003e,
    foreignAbiFrom: 0x40000000,
    numbers: {
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
      bpf: 321,
      perf_event_open: 298,
      userfaultfd: 323,
      keyctl: 250,
      add_key: 248,
      request_key: 249,
      init_module: 175,
      finit_module: 313,
      delete_module: 176,
      kexec_load: 246,
      kexec_file_load: 320,
      mount: 165,
      umount2: 166,
      pivot_root: 155,
      unshare: 272,
      setns: 308,
      open_by_handle_at: 304,
      name_to_handle_at: 303,
      reboot: 169,
      swapon: 167,
      swapoff: 168,
      ptrace: 101,
      process_vm_readv: 310,
      process_vm_writev: 311,
      pidfd_getfd: 438,
      kcmp: 312,
      io_setup: 206,
    },
  },
  arm64: {
    auditArch: 0xc00000b7,
    foreignAbiFrom: undefined,
    numbers: {
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
      bpf: 280,
      perf_event_open: 241,
      userfaultfd: 282,
      keyctl: 219,
      add_key: 217,
      request_key: 218,
      init_module: 105,
      finit_module: 273,
      delete_module: 106,
      kexec_load: 104,
      kexec_file_load: 294,
      mount: 40,
      umount2: 39,
      pivot_root: 41,
      unshare: 97,
      setns: 268,
      open_by_handle_at: 265,
      name_to_handle_at: 264,
      reboot: 142,
      swapon: 224,
      swapoff: 225,
      ptrace: 117,
      process_vm_readv: 270,
      process_vm_writev: 271,
      pidfd_getfd: 438,
      kcmp: 272,
      io_setup: 0,
    },
  },
};

// Classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const RET_K = 0x06;
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const RET_ALLOW = 0x7fff0000;
const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO_EPERM = 0x00050000 | 1;

type Instruction = [code: number, jt: number, jf: number, k: number];

/** The architectures the filter is written for; elsewhere the sandbox runs without it. */
export function seccompSupported(arch: NodeJS.Architecture = process.arch): boolean {
  return ARCHES[arch] !== undefined;
}

/** The filter as bubblewrap reads it (struct sock_filter[], host byte order), or undefined on another arch. */
export function seccompProgram(arch: NodeJS.Architecture = process.arch): Buffer | undefined {
  const table = ARCHES[arch];
  if (!table) return undefined;
  const denied = DENIED_SYSCALLS.map((name) => table.numbers[name]);
  const program: Instruction[] = [
    [LD_W_ABS, 0, 0, OFFSET_ARCH],
    [JEQ_K, 1, 0, table.auditArch],
    [RET_K, 0, 0, RET_KILL_PROCESS],
    [LD_W_ABS, 0, 0, OFFSET_NR],
  ];
  if (table.foreignAbiFrom !== undefined) {
    program.push([JGE_K, 0, 1, table.foreignAbiFrom], [RET_K, 0, 0, RET_KILL_PROCESS]);
  }
  // One comparison per denied number; a match jumps to the EPERM return after the list.
  denied.forEach((number, index) => program.push([JEQ_K, denied.length - index, 0, number]));
  program.push([RET_K, 0, 0, RET_ALLOW], [RET_K, 0, 0, RET_ERRNO_EPERM]);

  const buffer = Buffer.alloc(program.length * 8);
  program.forEach(([code, jt, jf, k], index) => {
    const offset = index * 8;
    buffer.writeUInt16LE(code, offset);
    buffer.writeUInt8(jt, offset + 2);
    buffer.writeUInt8(jf, offset + 3);
    buffer.writeUInt32LE(k >>> 0, offset + 4);
  });
  return buffer;
}
