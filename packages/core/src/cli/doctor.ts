import { Command } from 'commander';
import { BUILTIN_BACKENDS, isBackendInstalled, loadBackend } from '../backend-registry.js';
import { backendOptionsFromEnv, detectBackend } from '../create-executor.js';
import type { BackendAvailability, CordonBackend, RuntimeImageReport } from '../backend.js';
import { egressLines, inspectEgress, type DoctorEgress } from './doctor-egress.js';

/** The command that builds the runtime image from the installed @cordon/backend-docker. */
const IMAGE_BUILD_COMMAND = 'npx cordon image build';

/** How a backend's runtime image stands. `mismatch`: present, but its runner speaks another protocol (or none). */
export type ImageStatus = 'ok' | 'mismatch' | 'missing' | 'unknown' | 'own';

interface DoctorImage extends RuntimeImageReport {
  status: ImageStatus;
}

interface DoctorRow {
  backend: string;
  installed: boolean;
  usable: boolean;
  network: string;
  detail: string;
  remedy?: string;
  image?: DoctorImage;
  /** How the backend enforces egress allow-lists, from a fresh executor's capabilities (usable backends only). */
  egress?: DoctorEgress;
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description(
      'Show which backends are installed and usable here, how each enforces the network, and whether it enforces egress allow-lists.',
    )
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const rows: DoctorRow[] = [];
      for (const name of BUILTIN_BACKENDS) rows.push(await inspect(name));
      let auto: string;
      try {
        const detected = await detectBackend();
        auto = `${detected.backend.name} (${detected.reason})`;
      } catch (error) {
        auto = `none: ${error instanceof Error ? error.message : String(error)}`;
      }
      // An image whose runner speaks another protocol is a failure of this machine's setup, not
      // a backend merely absent here: the doctor exits non-zero.
      if (rows.some((row) => row.image?.status === 'mismatch')) process.exitCode = 1;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ auto, backends: rows }, null, 2)}\n`);
        return;
      }
      for (const row of rows) {
        const state = !row.installed ? 'not installed' : row.usable ? 'usable' : 'unusable';
        process.stdout.write(
          `${row.backend.padEnd(7)} ${state.padEnd(14)} network: ${row.network.padEnd(9)} ${row.detail}\n`,
        );
        if (row.image) process.stdout.write(`${' '.repeat(8)}${imageLine(row.image)}\n`);
        for (const line of row.egress ? egressLines(row.egress) : []) process.stdout.write(`${' '.repeat(8)}${line}\n`);
        if (row.remedy && !row.usable) process.stdout.write(`${' '.repeat(8)}→ ${row.remedy}\n`);
      }
      process.stdout.write(`\nauto → ${auto}\n`);
    });
}

async function inspect(name: string): Promise<DoctorRow> {
  if (!isBackendInstalled(name)) {
    return {
      backend: name,
      installed: false,
      usable: false,
      network: '-',
      detail: `package @cordon/backend-${name} is not installed`,
      remedy: `pnpm add @cordon/backend-${name}`,
    };
  }
  let availability: BackendAvailability;
  let backend: CordonBackend | undefined;
  const options = backendOptionsFromEnv(name);
  try {
    backend = await loadBackend(name);
    availability = await backend.availability(options);
  } catch (error) {
    availability = { usable: false, detail: error instanceof Error ? error.message : String(error) };
  }
  // Allow-list enforcement is an executor's capability: only a usable backend can make one.
  const egress = backend && availability.usable ? await inspectEgress({ backend, options }) : undefined;
  return {
    backend: name,
    installed: true,
    usable: availability.usable,
    network: availability.network ?? '-',
    detail: availability.detail,
    ...(remedyFor(availability) ? { remedy: remedyFor(availability) } : {}),
    ...(availability.image ? { image: { ...availability.image, status: imageStatus(availability.image) } } : {}),
    ...(egress ? { egress } : {}),
  };
}

export function imageStatus(image: RuntimeImageReport): ImageStatus {
  if (image.present === 'unknown') return 'unknown';
  if (!image.present) return 'missing';
  // No runner label at all: a user's own image, which gets cordon's runner at each start.
  if (image.runnerProtocol === undefined) return 'own';
  return image.runnerProtocol === image.expectedProtocol ? 'ok' : 'mismatch';
}

/** A mismatched image always names the command that rebuilds it. */
function remedyFor(availability: BackendAvailability): string | undefined {
  const { image, remedy } = availability;
  if (image && imageStatus(image) === 'mismatch' && !remedy?.includes(IMAGE_BUILD_COMMAND)) {
    return `Rebuild the runtime image: ${IMAGE_BUILD_COMMAND}${remedy ? `. ${remedy}` : ''}`;
  }
  return remedy;
}

export function imageLine(image: DoctorImage): string {
  const version = `runtime ${image.runtimeVersion ?? '(no dev.cordon.runtime-version label)'}`;
  switch (image.status) {
    case 'ok':
      return `image ${image.ref}: ${version}, runner protocol ${image.runnerProtocol} (matches this backend)`;
    case 'mismatch':
      return `image ${image.ref}: ${version}, runner protocol ${image.runnerProtocol ?? '(none)'}: MISMATCH, this backend speaks ${image.expectedProtocol}; rebuild it: ${IMAGE_BUILD_COMMAND}`;
    case 'own':
      return `image ${image.ref}: not cordon's (no runner label); cordon's runner protocol ${image.expectedProtocol} is sent in at each start`;
    case 'missing':
      return `image ${image.ref}: not present; build it: ${IMAGE_BUILD_COMMAND}`;
    case 'unknown':
      return `image ${image.ref}: held by the nodes' container runtime, labels not visible from here (build it with ${IMAGE_BUILD_COMMAND}, then load it into the nodes)`;
  }
}
