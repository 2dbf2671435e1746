import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseExecutionRequest } from '@cordon/core';
import {
  checkCollectedFiles,
  collectionBounds,
  collectPatternForms,
  type CollectionBounds,
} from '@cordon/core/backend';
import { COLLECT_FILES_CASES, collectFilesCaseRequest, collectFilesMismatches } from '@cordon/core/conformance';
import { describe, expect, it } from 'vitest';

// The Python collector (images/runtime/runner/collect.py, supervisor.py's) against core's
// collectFiles cases and, on trees made to tell JavaScript and Python apart (UTF-16 order,
// JavaScript's `$` and `.`, names that are not UTF-8, cuts inside a surrogate pair, the
// warning caps), against collect.cjs itself: both must return the same, byte for byte.
// Runs on a directory of this host with its python3, no container.
const RUNNER_DIR = fileURLToPath(new URL('../../../images/runtime/runner', import.meta.url));

interface CollectInput {
  root: string;
  rootDev: number;
  patterns: ReturnType<typeof collectPatternForms>;
  bounds: CollectionBounds;
}
interface Collected {
  files: [string, string][];
  truncated: boolean;
  warnings: string[];
}

const inImage = createRequire(import.meta.url)('../../../images/runtime/runner/collect.cjs') as {
  collect(input: CollectInput): Collected;
};
const collectCjs = (input: CollectInput): Collected => inImage.collect(input);

const PYTHON_COLLECT = `
import json, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
from collect import collect, js_stringify
given = json.loads(sys.stdin.read())
sys.stdout.write(js_stringify(collect(given['root'], given['rootDev'], given['patterns'], given['bounds'])))
`;

function collectPy(input: CollectInput): Collected {
  const ran = spawnSync('python3', ['-I', '-S', '-c', PYTHON_COLLECT, RUNNER_DIR], {
    input: JSON.stringify(input),
    encoding: 'utf8',
  });
  if (ran.status !== 0) throw new Error(`collect.py failed (${ran.status}): ${ran.stderr}`);
  return JSON.parse(ran.stdout) as Collected;
}

function inTree<T>(script: string, fn: (root: string) => T): T {
  const root = mkdtempSync(join(tmpdir(), 'cordon-collect-py-'));
  try {
    execFileSync('bash', ['-c', script], { cwd: root, stdio: 'ignore' });
    return fn(root);
  } finally {
    execFileSync('chmod', ['-R', 'u+rwx', root]);
    rmSync(root, { recursive: true, force: true });
  }
}

// As root here the permission case cannot hold (root reads through).
const cases = COLLECT_FILES_CASES.filter((row) => !(row.permissions && process.getuid?.() === 0));

describe('the Python collector (collect.py) on core collectFiles cases', () => {
  it.each(cases.map((row) => [row.name, row] as const))('%s', (_, row) => {
    const request = parseExecutionRequest(collectFilesCaseRequest(row));
    inTree(request.code, (root) => {
      const input = {
        root,
        rootDev: statSync(root).dev,
        patterns: collectPatternForms(request.collectFiles),
        bounds: collectionBounds(request),
      };
      const collected = collectPy(input);
      const files = collected.files.map(([path, base64]) => ({ path, content: Buffer.from(base64, 'base64') }));
      const checked = checkCollectedFiles(files, request.collectFiles, request.limits.diskBytes);
      expect(
        collectFilesMismatches(row, {
          status: 'ok',
          exitCode: 0,
          stderr: '',
          files: checked.files,
          filesTruncated: collected.truncated || checked.truncated,
          warnings: [...collected.warnings, ...checked.warnings],
        }),
      ).toEqual([]);
      expect(collected).toEqual(collectCjs(input));
    });
  });
});

const ASTRAL = '\u{1F600}';
const SPLIT_PAIR_DIR = `ab${ASTRAL.repeat(50)}`;

const TRICKY: { name: string; script: string; patterns: string[]; bounds?: Partial<CollectionBounds> }[] = [
  {
    name: 'UTF-16 order: an astral name sorts before U+FF71, as JavaScript compares',
    script: `mkdir t; for n in z Z é ${ASTRAL} ｱ a.b a-b; do printf "$n" > "t/$n"; done`,
    patterns: ['t'],
  },
  {
    name: "JavaScript's $ and . in the host's patterns: a trailing or leading newline does not match",
    script: `mkdir t; printf 1 > $'t/x.txt\\n'; printf 2 > $'t/\\nlead.txt'; printf 3 > $'t/mid\\ndle.txt'; printf 4 > t/ok.txt; printf 5 > $'t/cr\\r.txt'`,
    patterns: ['t/*.txt'],
  },
  {
    name: 'names that are not UTF-8 are named with their bytes escaped',
    script: `mkdir t; printf 1 > $'t/\\xff\\xfe.txt'; printf 2 > $'t/ok\\xc3(.txt'; printf 3 > $'t/\\xed\\xa0\\x80.txt'; printf 4 > t/fine.txt`,
    patterns: ['t'],
  },
  {
    name: 'a described path cut at 200 UTF-16 units inside a surrogate pair',
    script: `mkdir -p "t/${SPLIT_PAIR_DIR}"; printf 123456789 > "t/${SPLIT_PAIR_DIR}/${ASTRAL.repeat(50)}.bin"; printf 1 > t/small`,
    patterns: ['t'],
    bounds: { maxBytes: 4 },
  },
  {
    name: 'warnings over 500 characters are cut, past 20 they are counted',
    script: `mkdir t; for i in $(seq 1 25); do mkfifo "t/fifo$i"; done; mkfifo "t/$(printf '\\x01%.0s' $(seq 1 120))"`,
    patterns: ['t'],
  },
  {
    name: 'caps on count and path bytes, in path order',
    script: 'mkdir t; for i in $(seq 1 12); do printf "$i" > "t/file-$i"; done',
    patterns: ['t'],
    bounds: { maxFiles: 5, maxPathBytes: 40 },
  },
  {
    name: 'the listing bounds stop the walk, truncated',
    script: 'mkdir -p t/a t/b; for i in $(seq 1 30); do printf 1 > "t/a/$i"; printf 2 > "t/b/$i"; done',
    patterns: ['t'],
    bounds: { maxEntries: 40 },
  },
  {
    name: 'glob classes, braces and ? as picomatch compiles them',
    script: 'mkdir -p t/d; for n in a1.js b2.js c3.js ab.js a.json d/e.js "[ab].txt" a.txt; do printf x > "t/$n"; done',
    patterns: ['t/{a,b}?.js', 't/[ab].txt', 't/**/e.js', '!t/b*'],
  },
];

describe('collect.py returns exactly what collect.cjs returns', () => {
  it.each(TRICKY.map((row) => [row.name, row] as const))('%s', (_, row) => {
    const request = parseExecutionRequest({ language: 'bash', code: '', collectFiles: row.patterns });
    inTree(row.script, (root) => {
      const input = {
        root,
        rootDev: statSync(root).dev,
        patterns: collectPatternForms(request.collectFiles),
        bounds: { ...collectionBounds(request), ...row.bounds },
      };
      const fromCjs = collectCjs(input);
      // Each tree must make the collectors do something: files or warnings.
      expect(fromCjs.files.length + fromCjs.warnings.length).toBeGreaterThan(0);
      expect(collectPy(input)).toEqual(fromCjs);
    });
  });
});
