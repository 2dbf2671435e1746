/**
 * `@cordon/core/conformance/vitest`: the whole suite in one call, for a backend
 * author's test file:
 *
 * ```ts
 * import { describeConformance } from '@cordon/core/conformance/vitest';
 * describeConformance('my-backend', async () => myBackend.conformance(await myBackend.create({}), {}));
 * ```
 *
 * It runs the suite once in `beforeAll`, prints the table, declares one test per
 * probe that passes only on `blocked`, `holds` or `not-applicable` (with the
 * detail as the failure message), and closes the executor afterwards.
 *
 * `describeCollectFilesCases` declares one test per row of `COLLECT_FILES_CASES`, the
 * one `collectFiles` behaviour every backend must show:
 *
 * ```ts
 * describeCollectFilesCases('my-backend', () => executor);
 * ```
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceAdapter } from './adapter.js';
import { COLLECT_FILES_CASES, runCollectFilesCase, type CollectFilesCaseOptions } from './collect-files-cases.js';
import type { Executor } from '../executor.js';
import { NETWORK_PROBES } from './probes/network/index.js';
import { conformanceToJson, formatConformanceTable } from './report.js';
import { runConformance } from './suite.js';
import { FAILING_VERDICTS, type ConformanceReport, type RunConformanceOptions } from './types.js';
import { PROPERTY_PROBES } from './probes/properties/index.js';

export interface DescribeConformanceOptions extends Pick<RunConformanceOptions, 'only' | 'concurrency'> {
  /** Time for the whole suite in `beforeAll`. @default 300000 */
  timeoutMs?: number;
  /** Close the adapter's executor after the suite. @default true */
  closeExecutor?: boolean;
  /** Also write the JSON report to this path (for CI artifacts). */
  jsonPath?: string;
}

/** Every result id the suite can produce, in report order. */
export function conformanceIds(only?: readonly string[]): string[] {
  const ids = [
    ...NETWORK_PROBES.map((probe) => ({ id: probe.id, group: probe.group })),
    ...PROPERTY_PROBES.flatMap((property) =>
      [property.id, ...(property.yields ?? [])].map((id) => ({ id, group: property.id })),
    ),
    { id: 'leftovers', group: 'leftovers' },
  ];
  const wanted = (id: string, group: string) =>
    !only || only.some((name) => name === id || name === group || name === id.split(':')[0]);
  return ids.filter(({ id, group }) => wanted(id, group)).map(({ id }) => id);
}

export function describeConformance(
  name: string,
  makeAdapter: () => Promise<ConformanceAdapter>,
  options: DescribeConformanceOptions = {},
): void {
  describe(`cordon conformance: ${name}`, () => {
    let adapter: ConformanceAdapter | undefined;
    let report: ConformanceReport | undefined;
    let failure: unknown;

    beforeAll(async () => {
      try {
        adapter = await makeAdapter();
        report = await runConformance(adapter, {
          ...(options.only ? { only: options.only } : {}),
          ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        });
        console.log(formatConformanceTable(report));
        if (options.jsonPath) {
          const { writeFile } = await import('node:fs/promises');
          await writeFile(options.jsonPath, `${JSON.stringify(conformanceToJson(report), null, 2)}\n`);
        }
      } catch (error) {
        failure = error;
      }
    }, options.timeoutMs ?? 300_000);

    afterAll(async () => {
      if (adapter && options.closeExecutor !== false) await adapter.executor.close();
    }, 60_000);

    for (const id of conformanceIds(options.only)) {
      it(id, () => {
        if (failure !== undefined)
          throw failure instanceof Error ? failure : new Error(`the suite failed: ${JSON.stringify(failure)}`);
        const results = report?.results.filter((result) => result.id === id) ?? [];
        // No result at all: the probe was filtered out by the backend's languages; that is reported in the table.
        for (const result of results) {
          expect(FAILING_VERDICTS.has(result.verdict), `${id}: ${result.verdict} — ${result.detail}`).toBe(false);
        }
      });
    }
  });
}

export interface DescribeCollectFilesOptions extends CollectFilesCaseOptions {
  /** Leave out the cases that rely on file permissions (a collector running as root reads through them). */
  skipPermissionCases?: boolean;
}

/** One test per `COLLECT_FILES_CASES` row on the executor `executor()` returns when the tests run. */
export function describeCollectFilesCases(
  name: string,
  executor: () => Executor,
  options: DescribeCollectFilesOptions = {},
): void {
  describe(`collectFiles cases: ${name}`, () => {
    const cases = COLLECT_FILES_CASES.filter((row) => !(options.skipPermissionCases && row.permissions));
    it.each(cases.map((row) => [row.name, row] as const))('%s', async (_, row) => {
      expect(await runCollectFilesCase(executor(), row, options)).toEqual([]);
    });
  });
}
