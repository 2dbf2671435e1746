import { Command } from 'commander';
import { loadBackend } from '../backend-registry.js';
import { backendOptionsFromEnv } from '../create-executor.js';
import { armCloseWatchdog } from './close-watchdog.js';
import { collectKeyValue, reportError } from './support.js';

interface ConformanceFlags {
  backend: string;
  option?: Record<string, string>;
  only?: string;
  json?: boolean;
}

export function conformanceCommand(): Command {
  return new Command('conformance')
    .description(
      'Run the escape probes (each with its positive control) and property checks against a backend. Exits non-zero on LEAK, invalid or not-enforced.',
    )
    .requiredOption('-b, --backend <backend>', 'spawn, docker, k8s, or a backend package/path')
    .option('-o, --option <KEY=VALUE>', 'backend option (repeatable)', collectKeyValue('--option'))
    .option('--only <ids>', 'comma-separated probe ids to run')
    .option('--json', 'print { backend, results: [{ id, verdict, detail }] } as JSON')
    .action(async (flags: ConformanceFlags) => {
      process.exitCode = await conformance(flags);
    });
}

async function conformance(flags: ConformanceFlags): Promise<number> {
  const json = flags.json === true;
  try {
    // Loaded on demand so `cordon run` does not pay for the suite's canaries and probes.
    const { conformanceExitCode, conformanceToJson, formatConformanceTable, runConformance } =
      await import('../conformance/index.js');
    const backend = await loadBackend(flags.backend);
    const options = { ...backendOptionsFromEnv(backend.name), ...flags.option };
    await using executor = await backend.create(options);
    const adapter = await backend.conformance(executor, options);
    const progress = process.stderr.isTTY
      ? (line: string) => process.stderr.write(`\r\x1b[2K${line}`)
      : (line: string) => process.stderr.write(`${line}\n`);
    const report = await runConformance(adapter, {
      onProgress: (event) => progress(`[${event.done}/${event.total}] ${event.id} ${event.verdict ?? ''}`.trimEnd()),
      ...(flags.only ? { only: flags.only.split(',').map((id) => id.trim()) } : {}),
    });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
    process.stdout.write(
      json ? `${JSON.stringify(conformanceToJson(report), null, 2)}\n` : `${formatConformanceTable(report)}\n`,
    );
    armCloseWatchdog({ command: 'conformance' });
    return conformanceExitCode(report);
  } catch (error) {
    return reportError(error, json);
  }
}
