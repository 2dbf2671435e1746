import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { createExecutor } from '../create-executor.js';
import { collectKeyValue, parseInteger, reportError } from './support.js';
import { armCloseWatchdog } from './close-watchdog.js';
import { LANGUAGES, WAIVABLE_GUARANTEES, type WaivableGuarantee } from '../request.js';
import { exitCodeFor, resultToJson } from '../result.js';
import { formatEgressTable } from './egress-table.js';
import {
  collectResolve,
  collectRule,
  NETWORK_FLAG_MODES,
  runRequestFromFlags,
  type RunRequestFlags,
} from './run-request.js';
import { escapeForTerminal } from './terminal-text.js';

interface RunFlags extends RunRequestFlags {
  backend?: string;
  option?: Record<string, string>;
  json?: boolean;
  stdin?: string;
  rawOutput?: boolean;
}

export function runCommand(): Command {
  return new Command('run')
    .description(
      'Run a program in a fresh sandbox. Exits with its exit code (124 timeout, 137 oom, 128+n signal n, 130 aborted).',
    )
    .argument('<file>', 'program file, or - for standard input')
    .option(
      '-b, --backend <backend>',
      'auto, spawn, docker, k8s, or a backend package/path (default: $CORDON_BACKEND or auto)',
    )
    .addOption(
      new Option('-l, --language <language>', 'language (default: from the file extension, else node)').choices(
        LANGUAGES,
      ),
    )
    .option('-t, --timeout <ms>', 'wall-clock limit in milliseconds', parseInteger('--timeout'))
    .option('-m, --memory <mib>', 'memory limit in MiB', parseInteger('--memory'))
    .option('-e, --env <KEY=VALUE>', 'environment variable for the program (repeatable)', collectKeyValue('--env'))
    .addOption(
      new Option('-n, --network <mode>', 'network policy (default: none, or allow when --allow is given)').choices(
        NETWORK_FLAG_MODES,
      ),
    )
    .option(
      '--allow <rule>',
      'egress allow-list rule (repeatable; implies --network allow): api.example.com (ports 443 and 80), *.example.com (names below it, not itself), api.example.com:8443, 10.0.0.0/8:5432, [2001:db8::1]:443. See docs/egress.md',
      collectRule,
    )
    .option(
      '--resolve <NAME=ADDR[:PORT]>',
      'TEST ONLY (repeatable, with --allow): send NAME to this address instead of resolving it; exhaustive, so names not given resolve to nothing, and only these addresses pass the deny set. For pointing SDKs at local fakes, never for production',
      collectResolve,
    )
    .option(
      '--audit-limit <n>',
      'egress audit records kept (with --allow; default 1000); the rest are counted as dropped',
      parseInteger('--audit-limit'),
    )
    .option(
      '-o, --option <KEY=VALUE>',
      'backend option (repeatable); see the backend README',
      collectKeyValue('--option'),
    )
    .option(
      '--accept-unenforced <guarantees>',
      `run even where these cannot be enforced: all, or a comma list of ${WAIVABLE_GUARANTEES.join(', ')}`,
      parseGuarantees,
    )
    .option(
      '-i, --stdin <file>',
      "the program's standard input: a file, or - for this command's own standard input (default: none)",
    )
    .option('--json', 'print exactly one JSON ExecutionResult and exit 0 when a result was produced')
    .option(
      '--raw-output',
      "write the program's output to a terminal as is, escape sequences included (default: shown escaped on a terminal)",
    )
    .action(async (file: string, flags: RunFlags) => {
      process.exitCode = await run(file, flags);
    });
}

async function run(file: string, flags: RunFlags): Promise<number> {
  const json = flags.json === true;
  let code: string;
  try {
    code = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    process.stderr.write(`cordon: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  let stdin: Buffer | undefined;
  if (flags.stdin !== undefined) {
    if (flags.stdin === '-' && file === '-') {
      process.stderr.write(
        'cordon: --stdin - and program file - both want standard input; give one of them as a file\n',
      );
      return 2;
    }
    try {
      stdin = readFileSync(flags.stdin === '-' ? 0 : flags.stdin);
    } catch (error) {
      process.stderr.write(
        `cordon: cannot read --stdin ${flags.stdin}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return 2;
    }
  }
  // On a terminal the program's bytes are shown inert unless asked for raw; pipes and files get them as written.
  const out = terminalFilter(process.stdout.isTTY && flags.rawOutput !== true);
  const err = terminalFilter(process.stderr.isTTY && flags.rawOutput !== true);
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Before any backend starts: contradicting network flags are the caller's mistake.
    const request = runRequestFromFlags({ file, code, flags, ...(stdin ? { stdin } : {}) });
    await using executor = await createExecutor({
      ...(flags.backend ? { backend: flags.backend } : {}),
      ...flags.option,
    });
    const result = await executor.execute({
      ...request,
      ...(json
        ? {}
        : {
            onStdout: (chunk: string) => process.stdout.write(out(chunk)),
            onStderr: (chunk: string) => process.stderr.write(err(chunk)),
          }),
      signal: abort.signal,
    });
    armCloseWatchdog({ command: 'run' });
    if (json) {
      process.stdout.write(`${JSON.stringify(resultToJson(result))}\n`);
      return 0;
    }
    if (result.stdoutTruncated || result.stderrTruncated)
      process.stderr.write('cordon: output was truncated at the output limit\n');
    if (result.status === 'timeout') process.stderr.write(`cordon: timed out (execution ${result.id})\n`);
    if (result.status === 'oom') process.stderr.write(`cordon: killed by the memory limit (execution ${result.id})\n`);
    // Warnings may quote names the program chose (a collected file's path): always inert.
    for (const warning of result.warnings) process.stderr.write(`cordon: warning: ${escapeForTerminal(warning)}\n`);
    const egress = result.egress;
    // Under network none the audit holds only names the code tried to resolve: said when there are some.
    const allowList = typeof request.network === 'object' && request.network.mode === 'allow';
    const worthShowing = allowList || (egress?.records.length ?? 0) + (egress?.dropped ?? 0) > 0;
    if (egress && worthShowing) process.stderr.write(formatEgressTable(egress));
    return exitCodeFor(result);
  } catch (error) {
    return reportError(error, json);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function terminalFilter(escape: boolean): (chunk: string) => string {
  return escape ? escapeForTerminal : (chunk) => chunk;
}

function parseGuarantees(value: string): WaivableGuarantee[] {
  if (value === 'all') return [...WAIVABLE_GUARANTEES];
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(WAIVABLE_GUARANTEES as readonly string[]).includes(name))
      throw new InvalidArgumentError(
        `--accept-unenforced: unknown guarantee "${name}" (use all, or ${WAIVABLE_GUARANTEES.join(', ')})`,
      );
  }
  return names as WaivableGuarantee[];
}
