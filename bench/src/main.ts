#!/usr/bin/env node
// `pnpm bench`: latency, throughput and host memory of every usable backend, as
// ratios against bare baselines measured in the same run. See docs/benchmarks.md.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { removeBaselineContainers } from './docker-baselines.js';
import { renderChart } from './chart.js';
import { renderMarkdownResults, replaceResultsSection } from './markdown-report.js';
import { stopMemoryProbes } from './memory.js';
import { Progress } from './progress.js';
import { renderReport } from './report-table.js';
import { requirementProblems } from './requirements.js';
import { CLOSE_DEADLINE_MS, PHASE_COUNT, runBench, type Cleanup } from './run-bench.js';
import { closeWithin } from './deadline.js';
import { parseSettings, UsageError, USAGE } from './settings.js';

function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function cleanUp(cleanup: Cleanup): Promise<void> {
  const problems = await Promise.all(
    cleanup.executors.map((candidate) => closeWithin(candidate.executor, CLOSE_DEADLINE_MS)),
  );
  await stopMemoryProbes();
  for (const problem of problems) if (problem) process.stderr.write(`bench: ${problem}\n`);
  if (cleanup.docker) await removeBaselineContainers(cleanup.docker).catch(() => 0);
}

async function main(): Promise<number> {
  let settings;
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (settings === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const cleanup: Cleanup = { executors: [], docker: undefined };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nbench: interrupted, removing executors and containers (again to force)\n');
    void cleanUp(cleanup).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const progress = new Progress(process.stderr, PHASE_COUNT);
  try {
    const file = await runBench(settings, progress, cleanup);
    // An interrupted run finishes with what it has; it must not overwrite the results of a real one.
    if (interrupted) return 130;
    writeAtomically(settings.resultsPath, `${JSON.stringify(file, null, 2)}\n`);
    writeAtomically(settings.chartPath, renderChart(file));
    if (settings.docsPath && existsSync(settings.docsPath)) {
      writeAtomically(
        settings.docsPath,
        replaceResultsSection(readFileSync(settings.docsPath, 'utf8'), renderMarkdownResults(file)),
      );
    }
    progress.finish();
    process.stdout.write(renderReport(file));
    process.stdout.write(
      `\nresults: ${settings.resultsPath}\nchart:   ${settings.chartPath}\n${settings.docsPath ? `docs:    ${settings.docsPath}\n` : ''}`,
    );
    const problems = requirementProblems(file, settings.required);
    if (problems.length > 0) {
      process.stderr.write(
        `bench: FAILED: required backends did not run cleanly:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    await cleanUp(cleanup);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
