import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExecutionRequest } from '@cordon/core';
import {
  checkCollectedFiles,
  collectionBounds,
  collectPatternForms,
  type CollectionBounds,
} from '@cordon/core/backend';
import { COLLECT_FILES_CASES, collectFilesCaseRequest, collectFilesMismatches } from '@cordon/core/conformance';
import { describe, expect, it } from 'vitest';

/** The image's collector itself (images/runtime/runner/collect.cjs), run here on a directory of this host. */
const inImage = createRequire(import.meta.url)('../../../images/runtime/runner/collect.cjs') as {
  collect(input: {
    root: string;
    rootDev: number;
    patterns: ReturnType<typeof collectPatternForms>;
    bounds: CollectionBounds;
  }): { files: [string, string][]; truncated: boolean; warnings: string[] };
};

// Core's collectFiles cases against the in-image collector without a container: fast, and
// every tier runs it. As root here the permission case cannot hold (root reads through).
const cases = COLLECT_FILES_CASES.filter((row) => !(row.permissions && process.getuid?.() === 0));

describe('the image collector (collect.cjs) on core collectFiles cases', () => {
  it.each(cases.map((row) => [row.name, row] as const))('%s', (_, row) => {
    const root = mkdtempSync(join(tmpdir(), 'cordon-collect-cjs-'));
    try {
      const request = parseExecutionRequest(collectFilesCaseRequest(row));
      execFileSync('bash', ['-c', request.code], { cwd: root, stdio: 'ignore' });
      const collected = inImage.collect({
        root,
        rootDev: statSync(root).dev,
        patterns: collectPatternForms(request.collectFiles),
        bounds: collectionBounds(request),
      });
      const files = collected.files.map(([path, base64]) => ({ path, content: Buffer.from(base64, 'base64') }));
      const checked = checkCollectedFiles(files, request.collectFiles, request.limits.diskBytes);
      const result = {
        status: 'ok' as const,
        exitCode: 0,
        stderr: '',
        files: checked.files,
        filesTruncated: collected.truncated || checked.truncated,
        warnings: [...collected.warnings, ...checked.warnings],
      };
      expect(collectFilesMismatches(row, result)).toEqual([]);
    } finally {
      execFileSync('chmod', ['-R', 'u+rwx', root]);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
