import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CanarySet } from './canaries/set.js';
import type { ConformanceAdapter } from './adapter.js';
import { SuiteContext, type PlantedSecret } from './context.js';
import { findHostProcesses, reapHostProcesses } from './host-processes.js';
import { NETWORK_PROBES } from './probes/network/index.js';
import { runNetworkProbe } from './probes/network/run.js';
import { summarize } from './report.js';
import { BackendUnavailableError } from '../errors.js';
import type { ConformanceReport, ConformanceResult, RunConformanceOptions } from './types.js';
import { propertyVerdict } from './verdict.js';
import { PROPERTY_PROBES } from './probes/properties/index.js';
import { fakeKey } from './probes/properties/support.js';
import { runPropertyProbe } from './probes/properties/probe.js';
import { egressChecks, EGRESS_CHECK_IDS } from './probes/egress/index.js';
import { OWNER_ID } from '../backend/owner.js';

/** The environment variable planted in this process for the run (its value is random per run). */
export const PLANTED_SECRET_NAME = 'CORDON_CONFORMANCE_SECRET';

interface Task {
  readonly id: string;
  run(): Promise<ConformanceResult[]>;
}

/**
 * Runs the whole suite against one backend: starts the canaries, plants the
 * host secrets, runs every network probe with its positive control and every
 * property check (two at a time), then checks for leftovers, and removes
 * everything it made. While it runs, this process's environment carries a
 * planted secret variable (restored afterwards).
 */
export async function runConformance(
  adapter: ConformanceAdapter,
  options: RunConformanceOptions = {},
): Promise<ConformanceReport> {
  const startedAt = new Date();
  const started = performance.now();
  const executor = adapter.executor;
  const networkEnforcement = executor.capabilities().network;
  const selected = (ids: readonly string[]) =>
    !options.only || options.only.some((wanted) => ids.some((id) => id === wanted || id.split(':')[0] === wanted));

  const secret = {
    name: PLANTED_SECRET_NAME,
    value: `cordon-secret-${randomBytes(12).toString('hex')}`,
    marker: `cordon-host-canary-${randomBytes(6).toString('hex')}`,
  };
  const previousEnv = process.env[secret.name];
  process.env[secret.name] = secret.value;
  const homePlant = join(homedir(), `.cordon-canary-${OWNER_ID}-${randomBytes(4).toString('hex')}`);
  let canaries: CanarySet | undefined;
  let context: SuiteContext | undefined;
  try {
    canaries = await startCanaries(executor.name, adapter, secret);
    const keyFiles = await plantKeys(canaries, homePlant, secret.value);
    const planted: PlantedSecret = { ...secret, keyFiles };
    context = new SuiteContext(adapter, canaries, planted, options.signal, (id, group) => selected([id, group]));
    const suite = context;

    const networkTasks = NETWORK_PROBES.filter((probe) => selected([probe.id, probe.group])).map((probe): Task => ({
      id: probe.id,
      run: async () => [await runNetworkProbe(suite, probe)],
    }));
    const properties = PROPERTY_PROBES.filter((property) => selected([property.id, ...(property.yields ?? [])]));
    const propertyResults = properties.flatMap((property) =>
      [property.id, ...(property.yields ?? [])].filter((id) => selected([id, property.id])),
    );
    const egressTasks = egressTaskList(suite, selected);
    const tasks: Task[] = [
      ...networkTasks,
      ...egressTasks,
      ...properties.map((property): Task => ({ id: property.id, run: () => runPropertyProbe(suite, property) })),
    ];
    const checkLeftovers = selected(['leftovers']);
    const total = networkTasks.length + egressTasks.length + propertyResults.length + (checkLeftovers ? 1 : 0);
    const results: ConformanceResult[] = [];
    let done = 0;
    const starting = (id: string) => options.onProgress?.({ id, done, total });
    const report = (result: ConformanceResult) => {
      done++;
      options.onProgress?.({ id: result.id, verdict: result.verdict, result, done, total });
    };
    const ordered = await runPool(tasks, options.concurrency ?? 2, options.signal, starting, (batch) =>
      batch.filter((result) => selected([result.id, result.group])).forEach(report),
    );
    // A property may yield several results; keep only the ones asked for.
    for (const batch of ordered) results.push(...batch.filter((result) => selected([result.id, result.group])));
    if (checkLeftovers) {
      starting('leftovers');
      const leftover = await leftoversResult(suite);
      results.push(leftover);
      report(leftover);
    }
    options.signal?.throwIfAborted();
    return {
      backend: executor.name,
      networkEnforcement,
      tier: networkEnforcement,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      results,
      summary: summarize(results),
    };
  } finally {
    if (context) {
      await reapHostProcesses(context.nonces);
      await Promise.allSettled([...context.hostPathsToRemove].map((path) => rm(path, { force: true })));
    }
    await canaries?.close();
    await rm(homePlant, { recursive: true, force: true });
    if (previousEnv === undefined) delete process.env[secret.name];
    else process.env[secret.name] = previousEnv;
  }
}

/**
 * The egress checks, each one task; on a backend that does not enforce allow-lists
 * (capabilities().egress absent: it refuses them) each is not-applicable, saying so.
 */
function egressTaskList(context: SuiteContext, selected: (ids: string[]) => boolean): Task[] {
  const notApplicable = (id: string, language: ConformanceResult['language'], detail: string): ConformanceResult => ({
    id,
    group: 'egress',
    kind: 'network',
    title: 'egress allow-list',
    language,
    verdict: 'not-applicable',
    detail,
  });
  if (!context.capabilities.egress) {
    return EGRESS_CHECK_IDS.filter((id) => selected([id, 'egress'])).map((id) => ({
      id,
      run: () =>
        Promise.resolve([
          notApplicable(
            id,
            'host',
            `the backend does not enforce egress allow-lists (capabilities().egress absent), so it refuses them`,
          ),
        ]),
    }));
  }
  return egressChecks(context)
    .filter((check) => selected([check.id, 'egress']))
    .map((check) => ({
      id: check.id,
      run: async () => {
        const declared = context.declaredNotApplicable(check.id);
        if (declared !== undefined)
          return [notApplicable(check.id, check.language, `declared by the backend: ${declared}`)];
        if (!context.offers(check.language))
          return [notApplicable(check.id, check.language, `the backend does not offer ${check.language}`)];
        return [await check.run(context)];
      },
    }));
}

async function startCanaries(
  backend: string,
  adapter: ConformanceAdapter,
  secret: { marker: string; name: string; value: string },
): Promise<CanarySet> {
  try {
    return await CanarySet.start(adapter.canaryNetwork, secret);
  } catch (error) {
    const { bindIPv4, bindIPv6 } = adapter.canaryNetwork;
    throw new BackendUnavailableError(
      backend,
      `the conformance canaries could not listen on ${bindIPv4}${bindIPv6 ? ` / ${bindIPv6}` : ''}: ${error instanceof Error ? error.message : String(error)}`,
      "Check that the adapter's canaryNetwork.bindIPv4/bindIPv6 are addresses of this host (for docker, the bridge gateway) and that its dnsPort is free.",
      { cause: error },
    );
  }
}

/**
 * Plants fake private keys where an unisolated sandbox would find them: under
 * the host's real HOME and in a temp dir. World-readable on purpose, so only
 * isolation (not file permissions) can keep a sandbox running as another user out.
 */
async function plantKeys(canaries: CanarySet, homePlant: string, secret: string): Promise<string[]> {
  await chmod(canaries.tempDir, 0o755);
  await chmod(canaries.endpoints.unixPath, 0o777);
  const tmpKey = join(canaries.tempDir, 'id_rsa');
  const homeKey = join(homePlant, '.ssh', 'id_rsa');
  await mkdir(join(homePlant, '.ssh'), { recursive: true, mode: 0o755 });
  await writeFile(homeKey, fakeKey(secret), { mode: 0o644 });
  await writeFile(tmpKey, fakeKey(secret), { mode: 0o644 });
  return [homeKey, tmpKey];
}

/** Nothing the suite's executions started may outlive them, and the adapter must report no leftovers. */
async function leftoversResult(context: SuiteContext): Promise<ConformanceResult> {
  const processes = findHostProcesses(context.nonces);
  let adapterLeftovers: string[] = [];
  let error: string | undefined;
  try {
    adapterLeftovers = await context.adapter.leftovers();
  } catch (caught) {
    error = `adapter.leftovers() failed: ${caught instanceof Error ? caught.message : String(caught)}`;
  }
  const problems = [
    ...processes.map((found) => `process ${found.pid} (${found.cmdline.slice(0, 60)})`),
    ...adapterLeftovers,
  ];
  const judgement = propertyVerdict({
    holds: problems.length === 0,
    reason:
      problems.length === 0
        ? 'no process, temp dir or sandbox left'
        : `left behind: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}`,
    ...(error ? { error } : {}),
  });
  return {
    id: 'leftovers',
    group: 'leftovers',
    kind: 'property',
    title: 'nothing left behind after the suite (adapter.leftovers() and host processes)',
    language: 'host',
    verdict: judgement.verdict,
    detail: judgement.reason,
  };
}

/** Runs tasks `concurrency` at a time; results keep the tasks' order; stops starting new ones on abort. */
async function runPool(
  tasks: readonly Task[],
  concurrency: number,
  signal: AbortSignal | undefined,
  onStart: (id: string) => void,
  onDone: (results: ConformanceResult[]) => void,
): Promise<ConformanceResult[][]> {
  const results: ConformanceResult[][] = new Array<ConformanceResult[]>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && !signal?.aborted) {
      const index = next++;
      const task = tasks[index];
      if (!task) continue;
      onStart(task.id);
      const batch = await task.run();
      results[index] = batch;
      onDone(batch);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, tasks.length)) }, worker));
  return results.filter((batch) => batch !== undefined);
}
