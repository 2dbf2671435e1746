// `npm test`: installs, builds, lints, then runs every test tier this machine can run.
// A tier that cannot run here is skipped LOUDLY with why and how to enable it;
// with CORDON_REQUIRE_TIERS=all (as in CI) a skipped tier is a failure.
// CORDON_TEST_STEPS=vitest runs only the tiers' vitest suites (CI's extra Node versions),
// listing every other step as left out. Ends with a table of tiers and a plain
// "N passed, N failed (node vX.Y.Z)" line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root, run, setup, step } from './setup.mjs';
import { tiers } from './tiers.mjs';

const required = new Set(
  (process.env.CORDON_REQUIRE_TIERS ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean),
);
const requireAll = required.has('all');
const only = process.argv.slice(2);
const stepsWanted = (process.env.CORDON_TEST_STEPS ?? '').trim() || 'all';
if (stepsWanted !== 'all' && stepsWanted !== 'vitest') {
  console.error(`CORDON_TEST_STEPS=${stepsWanted}: expected "vitest" (only the vitest suites) or "all" (the default)`);
  process.exit(2);
}
/**
 * Every step runs under GNU timeout, which signals the step's whole process group: a step
 * that hangs (a close that never settles) fails with its name and bound instead of
 * silently eating CI's time. Generous: the slowest step takes under 5 minutes.
 */
const STEP_TIMEOUT_S = Number(process.env.CORDON_TEST_STEP_TIMEOUT_S ?? 1500);
const TIMED_OUT = 124;

const leftOut = `left out (CORDON_TEST_STEPS=${stepsWanted})`;
const resultsDir = join(root, '.cache', 'test-results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

const pnpm = setup();
const [pnpmBin, ...pnpmPrefix] = pnpm;
const counts = { passed: 0, failed: 0, skipped: 0 };
const summary = [];

if ((only.length === 0 || only.includes('static')) && stepsWanted === 'vitest') {
  for (const title of ['lint', 'typecheck', 'format (prettier --check)', 'shellcheck'])
    summary.push({ tier: 'static', step: title, outcome: leftOut });
} else if (only.length === 0 || only.includes('static')) {
  for (const task of ['lint', 'typecheck']) {
    step(`static: ${task}`);
    const code = run(pnpmBin, [...pnpmPrefix, 'run', '-s', task, '--output-logs=errors-only']);
    record('static', task, code === 0);
  }
  step('static: format');
  record('static', 'format (prettier --check)', run(pnpmBin, [...pnpmPrefix, 'run', '-s', 'format:check']) === 0);
  shellcheck();
}

for (const tier of tiers) {
  if (only.length > 0 && !only.includes(tier.name)) continue;
  if (!tier.present()) continue; // the tier's package has not landed in this checkout
  const selected = tier.steps.filter((tierStep) => stepsWanted === 'all' || tierStep.vitest);
  if (selected.length === 0) {
    // Nothing of this tier is wanted: not even its availability is asked for.
    for (const tierStep of tier.steps) summary.push({ tier: tier.name, step: tierStep.title, outcome: leftOut });
    continue;
  }
  const availability = tier.detect();
  if (!availability.ok) {
    const mustRun = requireAll || required.has(tier.name);
    banner(tier, availability, mustRun);
    summary.push({
      tier: tier.name,
      step: '(tier)',
      outcome: mustRun ? 'FAILED (skipped but required)' : 'SKIPPED',
      detail: availability.why,
    });
    if (mustRun) counts.failed++;
    else counts.skipped++;
    continue;
  }
  for (const tierStep of tier.steps) {
    if (!selected.includes(tierStep)) {
      summary.push({ tier: tier.name, step: tierStep.title, outcome: leftOut });
      continue;
    }
    step(`${tier.name}: ${tierStep.title}`);
    const started = Date.now();
    const outcome = runStep(tier, tierStep);
    summary.push({
      tier: tier.name,
      step: tierStep.title,
      outcome: outcome.ok ? 'passed' : 'FAILED',
      detail: `${outcome.detail} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    });
  }
}

process.stderr.write('\n');
console.log('tier      step                                              outcome');
for (const row of summary)
  console.log(`${row.tier.padEnd(9)} ${row.step.slice(0, 48).padEnd(49)} ${row.outcome}  ${row.detail ?? ''}`);
console.log(
  `\ntests: ${counts.passed} passed, ${counts.failed} failed${counts.skipped > 0 ? `, ${counts.skipped} skipped` : ''} (node ${process.version})`,
);
process.exit(counts.failed > 0 ? 1 : 0);

function record(tier, title, ok, detail = '') {
  if (ok) counts.passed++;
  else counts.failed++;
  if (tier === 'static') summary.push({ tier, step: title, outcome: ok ? 'passed' : 'FAILED', detail });
}

function bounded(command, args) {
  return ['timeout', ['--kill-after=20', String(STEP_TIMEOUT_S), command, ...args]];
}

function timedOut(code) {
  return code === TIMED_OUT ? `; TIMED OUT after ${STEP_TIMEOUT_S} s` : '';
}

function runStep(tier, tierStep) {
  const env = { ...process.env, ...tier.env?.(), ...tierStep.env };
  if (tierStep.vitest) {
    const outputFile = join(resultsDir, `${tier.name}-${tierStep.vitest.replace(/\W+/g, '-')}.json`);
    const code = run(
      ...bounded(pnpmBin, [
        ...pnpmPrefix,
        '-C',
        join('packages', tierStep.vitest),
        'exec',
        'vitest',
        'run',
        ...(tierStep.args ?? []),
        '--reporter=default',
        '--reporter=json',
        `--outputFile=${outputFile}`,
      ]),
      { env },
    );
    const report = existsSync(outputFile) ? JSON.parse(readFileSync(outputFile, 'utf8')) : undefined;
    const passed = report?.numPassedTests ?? 0;
    const failed = (report?.numFailedTests ?? 0) + (code !== 0 && !(report?.numFailedTests > 0) ? 1 : 0);
    counts.passed += passed;
    counts.failed += failed;
    // Failing tests are named in the summary line: CI logs keep the summary when they cut the middle.
    const failedTitles = (report?.testResults ?? []).flatMap((file) =>
      (file.assertionResults ?? [])
        .filter((test) => test.status === 'failed')
        .map((test) => test.fullName ?? test.title),
    );
    const named = failedTitles.length > 0 ? `: ${failedTitles.slice(0, 5).join(' | ').slice(0, 400)}` : '';
    return {
      ok: code === 0,
      detail: `${passed} passed, ${failed} failed, ${report?.numPendingTests ?? 0} skipped${named}${timedOut(code)}`,
    };
  }
  const [command, args] = bounded(tierStep.command[0], tierStep.command.slice(1));
  const result = spawnSync(command, args, {
    cwd: root,
    env,
    stdio: tierStep.check ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const verdict = timedOut(result.status)
    ? { ok: false, detail: `exit ${result.status}${timedOut(result.status)}` }
    : tierStep.check
      ? tierStep.check(result)
      : { ok: result.status === 0, detail: `exit ${result.status}` };
  record(tier.name, tierStep.title, verdict.ok);
  return verdict;
}

/** shellcheck over every shell script we ship or run; skipped loudly (failed when required) where it is missing. */
function shellcheck() {
  step('static: shellcheck');
  const listed = spawnSync('git', ['ls-files', '-z', '--', 'cluster', 'scripts', 'images', '.ci'], {
    cwd: root,
    encoding: 'utf8',
  });
  const scripts = (listed.stdout ?? '').split('\0').filter((path) => path.endsWith('.sh') || path === '.ci/run');
  if (spawnSync('shellcheck', ['--version']).error) {
    const availability = { why: 'shellcheck is not installed', enable: 'apt-get install -y shellcheck' };
    const mustRun = requireAll || required.has('static');
    banner({ name: 'static: shellcheck' }, availability, mustRun);
    summary.push({
      tier: 'static',
      step: 'shellcheck',
      outcome: mustRun ? 'FAILED (skipped but required)' : 'SKIPPED',
      detail: availability.why,
    });
    if (mustRun) counts.failed++;
    else counts.skipped++;
    return;
  }
  record(
    'static',
    `shellcheck (${scripts.length} scripts)`,
    run('shellcheck', ['--external-sources', ...scripts]) === 0,
  );
}

function banner(tier, availability, mustRun) {
  const line = '!'.repeat(78);
  process.stderr.write(`\n\x1b[1;${mustRun ? 31 : 33}m${line}\n`);
  process.stderr.write(
    `!! TIER "${tier.name}" ${mustRun ? 'IS REQUIRED BUT CANNOT RUN' : 'SKIPPED'}: ${availability.why}\n`,
  );
  process.stderr.write(`!! to enable it: ${availability.enable}\n${line}\x1b[0m\n`);
}
