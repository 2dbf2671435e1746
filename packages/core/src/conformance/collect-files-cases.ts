import { MAX_COLLECT_DEPTH, MAX_COLLECTED_FILES } from '../backend/collected-files.js';
import type { Executor } from '../executor.js';
import type { ExecutionRequest } from '../request.js';
import type { ExecutionResult } from '../result.js';

/**
 * One `collectFiles` behaviour, pinned as a table every backend runs (spawn, docker,
 * k8s, and a third party's with `runCollectFilesCase`): the same tree and patterns must
 * return the same files (path and content), the same `filesTruncated`, and warnings
 * naming the same reasons. Each case is one bash execution that writes its tree under
 * `t/` (so the program's own file never matters) and collects it.
 */
export interface CollectFilesCase {
  /** What the case pins; also its test name. */
  readonly name: string;
  /** Bash that writes the tree in the working directory (run under `set -e`). */
  readonly script: string;
  readonly collectFiles: readonly string[];
  /** `limits.diskBytes` of the run; the byte cap is min(diskBytes, MAX_FILES_BYTES). */
  readonly diskBytes?: number;
  /** Files in path order, `[path, content]` (content as UTF-8 text). */
  readonly files: readonly (readonly [path: string, content: string])[];
  readonly truncated: boolean;
  /**
   * Substrings of the collection warnings (those starting "collected file"): each must
   * occur in one, and every such warning must contain one of them.
   */
  readonly warnings: readonly string[];
  /** Unprivileged only: the case relies on file permissions holding for the collector (not for a root runner). */
  readonly permissions?: boolean;
}

const COUNT_CASE_FILES = MAX_COLLECTED_FILES + 1;

/** `t/f1.txt` … `t/f1001.txt` in path order (UTF-16 code units), each holding its number and a newline. */
function countCaseFiles(): [string, string][] {
  const files = Array.from({ length: COUNT_CASE_FILES }, (_, index): [string, string] => [
    `t/f${index + 1}.txt`,
    `${index + 1}\n`,
  ]);
  return files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `t/d/d/…`: the deepest directory a collection still lists (MAX_COLLECT_DEPTH components). */
const DEEPEST = ['t', ...Array.from({ length: MAX_COLLECT_DEPTH - 1 }, () => 'd')].join('/');
const BIG = 600_000;
const MiB = 1024 * 1024;

export const COLLECT_FILES_CASES: readonly CollectFilesCase[] = [
  {
    name: 'a bare directory name selects everything under it (out = out/**)',
    script:
      'mkdir -p t/out/sub; printf 1 > t/out/a.txt; printf 2 > t/out/sub/b.bin; printf 3 > t/outside.txt; printf 4 > t/out.txt',
    collectFiles: ['t/out'],
    files: [
      ['t/out/a.txt', '1'],
      ['t/out/sub/b.bin', '2'],
    ],
    truncated: false,
    warnings: [],
  },
  {
    name: '**/*.txt matches at every depth, the top level too',
    script:
      'mkdir -p t/x/y; printf a > t/a.txt; printf b > t/x/b.txt; printf c > t/x/y/c.txt; printf d > t/d.bin; printf top > top.txt',
    collectFiles: ['**/*.txt'],
    files: [
      ['t/a.txt', 'a'],
      ['t/x/b.txt', 'b'],
      ['t/x/y/c.txt', 'c'],
      ['top.txt', 'top'],
    ],
    truncated: false,
    warnings: [],
  },
  {
    name: 'a nested ** matches zero or more directories',
    script:
      'mkdir -p t/keep t/x/keep t/x/y/keep/z t/x/other t/keepnot; printf a > t/keep/a; printf b > t/x/keep/b; printf c > t/x/y/keep/z/c; printf d > t/x/other/d; printf e > t/keepnot/e',
    collectFiles: ['t/**/keep/**'],
    files: [
      ['t/keep/a', 'a'],
      ['t/x/keep/b', 'b'],
      ['t/x/y/keep/z/c', 'c'],
    ],
    truncated: false,
    warnings: [],
  },
  {
    name: 'an exact path selects that file only',
    script: 'mkdir -p t/x; printf f > t/x/file.txt; printf g > t/x/file.txt.bak; printf h > t/x/other.txt',
    collectFiles: ['t/x/file.txt'],
    files: [['t/x/file.txt', 'f']],
    truncated: false,
    warnings: [],
  },
  {
    name: 'dotfiles and dot-directories match like any name',
    script:
      'mkdir -p t/.dot; printf e > t/.env; printf v > t/visible.txt; printf i > t/.dot/inner.txt; printf d > t/.dot/.deeper',
    collectFiles: ['t/*', 't/.dot'],
    files: [
      ['t/.dot/.deeper', 'd'],
      ['t/.dot/inner.txt', 'i'],
      ['t/.env', 'e'],
      ['t/visible.txt', 'v'],
    ],
    truncated: false,
    warnings: [],
  },
  {
    name: 'a ! pattern excludes, a bare directory name after ! everything under it',
    script:
      'mkdir -p t/sub t/secret; printf k > t/keep.txt; printf l > t/skip.log; printf m > t/sub/skip.log; printf n > t/sub/keep.txt; printf s > t/secret/a.txt',
    collectFiles: ['t', '!**/*.log', '!t/secret'],
    files: [
      ['t/keep.txt', 'k'],
      ['t/sub/keep.txt', 'n'],
    ],
    truncated: false,
    warnings: [],
  },
  {
    name: 'links to a file, to a directory and out of the sandbox are never followed, each named',
    script:
      'mkdir -p t/dir; printf r > t/real.txt; printf f > t/dir/f.txt; ln -s real.txt t/link.txt; ln -s dir t/linkdir; ln -s /etc/passwd t/abs',
    collectFiles: ['t/**'],
    files: [
      ['t/dir/f.txt', 'f'],
      ['t/real.txt', 'r'],
    ],
    truncated: false,
    warnings: [
      '"t/abs" left out: a symbolic link, not a regular file',
      '"t/link.txt" left out: a symbolic link, not a regular file',
      '"t/linkdir" left out: a symbolic link, not a regular file',
    ],
  },
  {
    name: 'a fifo is never opened, and named',
    script: 'mkdir t; mkfifo t/pipe; printf o > t/ok.txt',
    collectFiles: ['t'],
    files: [['t/ok.txt', 'o']],
    truncated: false,
    warnings: ['"t/pipe" left out: a fifo, not a regular file'],
  },
  {
    name: 'a name that is not UTF-8 is left out and named, its bytes escaped',
    script: "mkdir t; printf x > t/$'\\xff'.txt; printf o > t/ok.txt",
    collectFiles: ['t/*.txt'],
    files: [['t/ok.txt', 'o']],
    truncated: false,
    warnings: ['"t/\\xff.txt" left out: its name is not valid UTF-8'],
  },
  {
    name: `directories are listed ${MAX_COLLECT_DEPTH} levels down, the next level is named`,
    script: `mkdir -p ${DEEPEST}/d; printf keep > ${DEEPEST}/keep.txt; printf deep > ${DEEPEST}/d/deep.txt`,
    collectFiles: ['t'],
    files: [[`${DEEPEST}/keep.txt`, 'keep']],
    truncated: false,
    warnings: [`"${DEEPEST}/d" left out: deeper than ${MAX_COLLECT_DEPTH} directory levels`],
  },
  {
    name: 'a directory the program locked is named, not listed',
    script: 'mkdir -p t/locked; printf x > t/locked/a.txt; printf o > t/ok.txt; chmod 000 t/locked',
    collectFiles: ['t'],
    files: [['t/ok.txt', 'o']],
    truncated: false,
    warnings: ['"t/locked" left out: the directory could not be opened'],
    permissions: true,
  },
  {
    name: `past ${MAX_COLLECTED_FILES} files the first in path order come back, truncated`,
    script: `mkdir t; for i in $(seq ${COUNT_CASE_FILES}); do echo $i > t/f$i.txt; done`,
    collectFiles: ['t'],
    files: countCaseFiles().slice(0, MAX_COLLECTED_FILES),
    truncated: true,
    warnings: [`"${countCaseFiles()[MAX_COLLECTED_FILES]![0]}" left out: more than ${MAX_COLLECTED_FILES} files`],
  },
  {
    // Two names of one file (a hard link): past the byte cap without filling the disk. Path order,
    // not the walk's: "t/a-big" comes before "t/a/big", though the directory "t/a" is listed first.
    name: 'past min(diskBytes, MAX_FILES_BYTES) a file is left out in path order, a smaller later one still fits',
    script: `mkdir -p t/a; printf '%${BIG}s' > t/a-big; ln t/a-big t/a/big; printf small > t/z.txt`,
    collectFiles: ['t'],
    diskBytes: MiB,
    files: [
      ['t/a-big', ' '.repeat(BIG)],
      ['t/z.txt', 'small'],
    ],
    truncated: true,
    warnings: [`"t/a/big" left out: ${BIG} bytes would pass the ${MiB}-byte cap`],
  },
  {
    name: 'patterns that select nothing return no files, not truncated, no warnings',
    script: 'mkdir t; printf a > t/a.txt',
    collectFiles: ['t/nothing', 'none/**/*.x'],
    files: [],
    truncated: false,
    warnings: [],
  },
];

export interface CollectFilesCaseOptions {
  /** Merged into the request (e.g. `acceptUnenforced` on an advisory backend). */
  request?: Partial<ExecutionRequest>;
}

/** The request a case runs. */
export function collectFilesCaseRequest(
  testCase: CollectFilesCase,
  options: CollectFilesCaseOptions = {},
): ExecutionRequest {
  return {
    language: 'bash',
    code: `set -e\n${testCase.script}\n`,
    collectFiles: [...testCase.collectFiles],
    timeoutMs: 60_000,
    ...options.request,
    ...(testCase.diskBytes ? { limits: { ...options.request?.limits, diskBytes: testCase.diskBytes } } : {}),
  };
}

/** Where a result differs from its case (empty: it holds). */
export function collectFilesMismatches(
  testCase: CollectFilesCase,
  result: Pick<ExecutionResult, 'status' | 'exitCode' | 'stderr' | 'files' | 'filesTruncated' | 'warnings'>,
): string[] {
  const mismatches: string[] = [];
  if (result.status !== 'ok')
    mismatches.push(`the run ended ${result.status} (exit ${result.exitCode}): ${result.stderr.slice(0, 300)}`);
  const actual = result.files.map((file) => [file.path, Buffer.from(file.content).toString('utf8')] as const);
  const expectedPaths = new Set(testCase.files.map(([path]) => path));
  const actualPaths = new Set(actual.map(([path]) => path));
  const missing = testCase.files.filter(([path]) => !actualPaths.has(path)).map(([path]) => path);
  const extra = actual.filter(([path]) => !expectedPaths.has(path)).map(([path]) => path);
  if (missing.length > 0) mismatches.push(`missing ${missing.length} files: ${JSON.stringify(missing.slice(0, 5))}`);
  if (extra.length > 0) mismatches.push(`unexpected ${extra.length} files: ${JSON.stringify(extra.slice(0, 5))}`);
  const wanted = new Map(testCase.files);
  const differing = actual.filter(([path, content]) => wanted.has(path) && wanted.get(path) !== content);
  if (differing.length > 0)
    mismatches.push(`other content in ${JSON.stringify(differing.slice(0, 5).map(([path]) => path))}`);
  if (missing.length + extra.length === 0 && actual.some(([path], index) => path !== testCase.files[index]?.[0]))
    mismatches.push('the files are not in path order');
  if (result.filesTruncated !== testCase.truncated)
    mismatches.push(`filesTruncated is ${result.filesTruncated}, expected ${testCase.truncated}`);
  const warnings = result.warnings.filter((warning) => warning.startsWith('collected file'));
  for (const expected of testCase.warnings)
    if (!warnings.some((warning) => warning.includes(expected))) mismatches.push(`no warning contains ${expected}`);
  for (const warning of warnings)
    if (!testCase.warnings.some((expected) => warning.includes(expected)))
      mismatches.push(`unexpected warning: ${warning}`);
  return mismatches;
}

/** Runs one case on `executor`; returns where the result differs from it (empty: it holds). */
export async function runCollectFilesCase(
  executor: Executor,
  testCase: CollectFilesCase,
  options: CollectFilesCaseOptions = {},
): Promise<string[]> {
  return collectFilesMismatches(testCase, await executor.execute(collectFilesCaseRequest(testCase, options)));
}
