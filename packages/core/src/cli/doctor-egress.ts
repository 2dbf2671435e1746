import type { CordonBackend } from '../backend.js';
import type { BackendCapabilities, EgressCapabilities } from '../capabilities.js';
import type { EgressPath } from '../egress/audit.js';

/** What `cordon doctor` says about a backend's egress allow-lists (also its `--json`). */
export type DoctorEgress =
  | {
      status: 'enforced';
      capture: EgressCapabilities['capture'];
      observes: readonly EgressPath[];
      dnsUnderNone: boolean;
      notes: readonly string[];
    }
  /** `capabilities().egress` absent: the backend refuses network mode 'allow'. */
  | { status: 'refused'; notes: readonly string[] }
  /** The capabilities could not be read (the executor could not be created). */
  | { status: 'unknown'; detail: string };

/** Creating an executor is a backend's own setup; a stuck daemon or cluster must not hang the doctor. */
export const DOCTOR_CAPABILITIES_TIMEOUT_MS = 30_000;

export function egressFromCapabilities(capabilities: BackendCapabilities): DoctorEgress {
  const egress = capabilities.egress;
  if (!egress) {
    // Why it is refused, when the backend says (spawn: "egress allow-lists are refused: <missing tool>").
    const notes = (capabilities.notes ?? []).filter((note) => /egress|allow-list/i.test(note));
    return { status: 'refused', notes };
  }
  return {
    status: 'enforced',
    capture: egress.capture,
    observes: [...egress.observes],
    dnsUnderNone: egress.dnsUnderNone,
    notes: [...(egress.notes ?? [])],
  };
}

/**
 * Reads `capabilities().egress` from a fresh executor (closed at once). Only a
 * usable backend is asked; its pool is not started, only the capabilities are wanted.
 */
export async function inspectEgress(params: {
  backend: Pick<CordonBackend, 'create'>;
  options: Record<string, unknown>;
  timeoutMs?: number;
}): Promise<DoctorEgress> {
  const timeoutMs = params.timeoutMs ?? DOCTOR_CAPABILITIES_TIMEOUT_MS;
  const creating = params.backend.create({ ...params.options, poolSize: 0 });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  try {
    const executor = await Promise.race([creating, late]);
    if (executor === 'late') {
      // Whatever it makes once it does start is removed again.
      creating.then((made) => made.close()).catch(() => undefined);
      return { status: 'unknown', detail: `no executor within ${timeoutMs} ms` };
    }
    try {
      return egressFromCapabilities(executor.capabilities());
    } finally {
      await executor.close();
    }
  } catch (error) {
    return {
      status: 'unknown',
      detail: `could not create an executor: ${error instanceof Error ? error.message : String(error)}`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The doctor's lines for one backend: the verdict, then its notes. */
export function egressLines(egress: DoctorEgress): string[] {
  switch (egress.status) {
    case 'enforced': {
      const dns = egress.dnsUnderNone ? '; DNS audited under network none too' : '';
      return [
        `egress allow-lists: enforced (capture ${egress.capture}; observes ${egress.observes.join(', ')}${dns})`,
        ...egress.notes.map((note) => `  ${note}`),
      ];
    }
    case 'refused':
      return [
        'egress allow-lists: refused (not supported by this backend)',
        ...egress.notes.map((note) => `  ${note}`),
      ];
    case 'unknown':
      return [`egress allow-lists: unknown (${egress.detail})`];
  }
}
