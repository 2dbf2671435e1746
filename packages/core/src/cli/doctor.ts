import { Command } from 'commander';
import { BUILTIN_BACKENDS, isBackendInstalled, loadBackend } from '../backend-registry.js';
import { backendOptionsFromEnv, detectBackend } from '../create-executor.js';
import type { BackendAvailability } from '../backend.js';

interface DoctorRow {
  backend: string;
  installed: boolean;
  usable: boolean;
  network: string;
  detail: string;
  remedy?: string;
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('Show which backends are installed and usable here, and how each enforces the network.')
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
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ auto, backends: rows }, null, 2)}\n`);
        return;
      }
      for (const row of rows) {
        const state = !row.installed ? 'not installed' : row.usable ? 'usable' : 'unusable';
        process.stdout.write(
          `${row.backend.padEnd(7)} ${state.padEnd(14)} network: ${row.network.padEnd(9)} ${row.detail}\n`,
        );
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
  try {
    availability = await (await loadBackend(name)).availability(backendOptionsFromEnv(name));
  } catch (error) {
    availability = { usable: false, detail: error instanceof Error ? error.message : String(error) };
  }
  return {
    backend: name,
    installed: true,
    usable: availability.usable,
    network: availability.network ?? '-',
    detail: availability.detail,
    ...(availability.remedy ? { remedy: availability.remedy } : {}),
  };
}
