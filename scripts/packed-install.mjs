// cordon as a user gets it: packs every package (pnpm pack), checks each packed manifest,
// installs the tarballs with npm into a blank project outside the workspace, and from
// there runs createExecutor on spawn and docker, `cordon doctor`, `cordon run`,
// `cordon conformance --backend spawn`, and a TypeScript consumer under node16 and bundler
// resolution. Nothing from the repository, its scripts or its devDependencies is reachable
// from that project. Assumes the workspace is built (`node scripts/setup.mjs`).
//
//   node scripts/packed-install.mjs [--keep] [--skip-docker]
//
// --keep leaves the temp dirs for inspection; --skip-docker is for machines without the
// Docker tier (CI never passes it: docker is required by default).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { pnpmCommand, root } from './setup.mjs';

const args = new Set(process.argv.slice(2));
for (const arg of args) {
  if (!['--keep', '--skip-docker'].includes(arg)) {
    process.stderr.write(`packed-install: unknown argument ${arg} (use --keep, --skip-docker)\n`);
    process.exit(2);
  }
}
const keep = args.has('--keep');
const skipDocker = args.has('--skip-docker');
const started = Date.now();
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** @type {{ name: string, status: 'pass' | 'FAIL' | 'skip', detail: string }[]} */
const checks = [];
function check(name, ok, detail = '') {
  checks.push({ name, status: ok ? 'pass' : 'FAIL', detail });
  // A pass shows a short detail; a failure all of it (the table repeats it).
  const shown = ok && detail.length > 160 ? `${detail.slice(0, 157)}...` : detail;
  print(`${ok ? '  ✓' : '  ✗'} ${name}${shown ? ` — ${shown}` : ''}`);
  return ok;
}
function skip(name, detail) {
  checks.push({ name, status: 'skip', detail });
  print(`  - ${name} — skipped: ${detail}`);
}
function print(line = '') {
  process.stdout.write(`${line}\n`);
}
function heading(title) {
  print(`\n=== ${title} (+${((Date.now() - started) / 1000).toFixed(0)}s)`);
}

/** Long output is cut to its head and tail, so the transcript stays readable. */
function trimmed(text, { head = 25, tail = 15 } = {}) {
  const lines = text.replace(/\s+$/, '').split('\n');
  if (lines.length <= head + tail + 1) return lines.join('\n');
  return [...lines.slice(0, head), `    … ${lines.length - head - tail} lines …`, ...lines.slice(-tail)].join('\n');
}

/** Runs a command, prints it and its (trimmed) output, returns { status, stdout, stderr }. */
function sh(command, argv, { cwd, env, timeoutMs = 5 * 60_000, quiet = false, trim, trimStderr = trim } = {}) {
  print(`$ ${[command, ...argv].join(' ')}${cwd ? `   (in ${cwd})` : ''}`);
  const result = spawnSync(command, argv, {
    cwd,
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = result.stdout ?? '';
  const stderr = result.stderr ?? '';
  if (!quiet) {
    const out = [stdout.trim() && trimmed(stdout, trim), stderr.trim() && trimmed(stderr, trimStderr)].filter(Boolean);
    if (out.length > 0) print(out.join('\n').replace(/^/gm, '    '));
  }
  if (result.error) print(`    (${result.error.message})`);
  const status = result.status ?? (result.signal ? 128 : 1);
  if (status !== 0) print(`    → exit ${result.status ?? result.signal}`);
  return { status, stdout, stderr };
}

const temps = [];
function tempDir(label) {
  const dir = mkdtempSync(join(tmpdir(), label));
  temps.push(dir);
  return dir;
}

try {
  const packDir = tempDir('cordon-packed-tarballs-');
  const packages = packTarballs(packDir);
  for (const pkg of packages) checkManifest(pkg);
  const project = tempDir('cordon-packed-');
  const env = projectEnv();
  installProject(project, packages, env);
  verifyResolution(project, packages, env);
  runConsumer(project, env);
  runCli(project, env);
  typecheck(project, env);
} catch (error) {
  check('harness ran to the end', false, error instanceof Error ? error.stack : String(error));
} finally {
  if (keep) print(`\nkept: ${temps.join(' ')}`);
  else for (const dir of temps) rmSync(dir, { recursive: true, force: true });
}

heading('checks');
const width = Math.max(...checks.map((c) => c.name.length));
for (const c of checks)
  print(`${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.status === 'pass' ? '' : c.detail}`.trimEnd());
const failed = checks.filter((c) => c.status === 'FAIL').length;
const passed = checks.filter((c) => c.status === 'pass').length;
const skipped = checks.filter((c) => c.status === 'skip').length;
print(
  `\npacked install: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''} (${((Date.now() - started) / 1000).toFixed(0)}s)`,
);
process.exitCode = failed > 0 ? 1 : 0;

// ---------------------------------------------------------------------------

function packTarballs(packDir) {
  heading('pack (pnpm pack in each packages/* package)');
  const [pnpm, ...prefix] = pnpmCommand();
  const packagesDir = join(root, 'packages');
  const result = [];
  for (const name of readdirSync(packagesDir).sort()) {
    const dir = join(packagesDir, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (manifest.private) continue;
    const before = new Set(readdirSync(packDir));
    const packed = sh(pnpm, [...prefix, 'pack', '--pack-destination', packDir], { cwd: dir, quiet: true });
    const tarballs = readdirSync(packDir).filter((file) => file.endsWith('.tgz') && !before.has(file));
    if (!check(`pack ${manifest.name}`, packed.status === 0 && tarballs.length === 1, packed.stderr.trim())) continue;
    const tarball = join(packDir, tarballs[0]);
    print(`    ${tarball}`);
    result.push({ name: manifest.name, dir, tarball });
  }
  if (result.length === 0) throw new Error('no package was packed');
  return result;
}

/** The packed package.json, its file list and its unpacked tree; the checks a published manifest must pass. */
function checkManifest(pkg) {
  heading(`manifest of ${pkg.name} (as packed)`);
  const manifest = JSON.parse(sh('tar', ['-xOzf', pkg.tarball, 'package/package.json'], { quiet: true }).stdout);
  pkg.manifest = manifest;
  const listing = sh('tar', ['-tzf', pkg.tarball], { quiet: true }).stdout;
  const files = new Set(
    listing
      .split('\n')
      .filter(Boolean)
      .map((entry) => entry.replace(/^package\//, '')),
  );
  print(
    `    ${files.size} files; top level: ${[...new Set([...files].map((f) => f.split('/')[0]))].sort().join(', ')}`,
  );
  const unpacked = join(dirname(pkg.tarball), `${posix.basename(pkg.tarball, '.tgz')}-unpacked`);
  sh('mkdir', ['-p', unpacked], { quiet: true });
  sh('tar', ['-xzf', pkg.tarball, '-C', unpacked, '--strip-components=1'], { quiet: true });

  // Ranges only a workspace understands.
  const local = [];
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (/^(workspace|link|file|portal|catalog):/.test(String(range))) local.push(`${field}.${dep}=${range}`);
    }
  }
  check(`${pkg.name}: no workspace:/link:/file: ranges`, local.length === 0, local.join(', '));

  // Every entry point the manifest names.
  const targets = entryTargets(manifest);
  const missingTargets = targets.filter(({ path }) => !matchesPackedFile(path, files));
  print(`    entry points: ${targets.map((t) => `${t.from}→${t.path}`).join(', ')}`);
  check(
    `${pkg.name}: exports/main/types/bin targets packed (${targets.length})`,
    targets.length > 0 && missingTargets.length === 0,
    missingTargets.map((t) => `${t.from} → ${t.path}`).join(', '),
  );

  // Files the code reads from its own package directory at run time.
  const assets = runtimeAssets(pkg, unpacked, files);
  print(`    run-time files read from the package: ${assets.map((a) => a.path).join(', ') || 'none'}`);
  const missingAssets = assets.filter((a) => !a.packed);
  check(
    `${pkg.name}: run-time files packed (${assets.length})`,
    missingAssets.length === 0,
    missingAssets.map((a) => `${a.path} (read by ${a.by})`).join(', '),
  );

  // Every bare import of the built code is a declared dependency (not a devDependency).
  const declared = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const undeclared = new Map();
  for (const file of [...files].filter((f) => /\.(c|m)?js$/.test(f))) {
    for (const specifier of bareImports(readFileSync(join(unpacked, file), 'utf8'))) {
      const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
      if (builtinModules.includes(name) || specifier.startsWith('node:') || declared.has(name)) continue;
      undeclared.set(name, file);
    }
  }
  check(
    `${pkg.name}: every imported package is a dependency`,
    undeclared.size === 0,
    [...undeclared].map(([name, file]) => `${name} (imported by ${file})`).join(', '),
  );
}

/** [{ from, path }] for exports (every condition), main, types/typings and bin. */
function entryTargets(manifest) {
  const targets = [];
  const walk = (value, from) => {
    if (typeof value === 'string') targets.push({ from, path: value });
    else if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${from}[${i}]`));
    else if (value && typeof value === 'object')
      for (const [key, item] of Object.entries(value)) walk(item, `${from}.${key}`);
  };
  if (manifest.exports !== undefined) walk(manifest.exports, 'exports');
  for (const field of ['main', 'module', 'types', 'typings']) if (manifest[field]) walk(manifest[field], field);
  if (typeof manifest.bin === 'string') walk(manifest.bin, 'bin');
  else if (manifest.bin) walk(manifest.bin, 'bin');
  return targets.map(({ from, path }) => ({ from, path: posix.normalize(path).replace(/^\.\//, '') }));
}

function matchesPackedFile(path, files) {
  if (!path.includes('*')) return files.has(path);
  const pattern = new RegExp(
    `^${path
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.+')}$`,
  );
  return [...files].some((file) => pattern.test(file));
}

/**
 * What the built code reads from its own package at run time: `new URL('<literal>',
 * import.meta.url)` targets (a directory: every file the workspace package has there),
 * and `builtFile(<literal or NAME constant>)` (backend-spawn's helper for files beside
 * dist's modules).
 */
function runtimeAssets(pkg, unpacked, files) {
  const assets = [];
  for (const file of [...files].filter((f) => /\.(c|m)?js$/.test(f))) {
    const source = readFileSync(join(unpacked, file), 'utf8');
    const constants = new Map(
      [...source.matchAll(/\b([A-Z][A-Z0-9_]*)\s*=\s*(['"])([^'"\n]+)\2/g)].map((m) => [m[1], m[3]]),
    );
    for (const match of source.matchAll(/new URL\(\s*(['"])([^'"\n]+)\1\s*,\s*import\.meta\.url\s*\)/g)) {
      const target = posix.normalize(posix.join(posix.dirname(file), match[2]));
      if (target === '.' || target === './') continue; // the package directory itself
      if (target.startsWith('..')) {
        assets.push({ path: target, by: file, packed: false });
        continue;
      }
      const directory = target.endsWith('/') ? target : undefined;
      if (directory) {
        // A directory the code reads files from: whatever the package has there must ship.
        const source = join(pkg.dir, directory);
        const expected = existsSync(source)
          ? readdirSync(source).filter((n) => statSync(join(source, n)).isFile())
          : [];
        if (expected.length === 0)
          assets.push({ path: directory, by: file, packed: [...files].some((f) => f.startsWith(directory)) });
        for (const name of expected)
          assets.push({ path: directory + name, by: file, packed: files.has(directory + name) });
      } else assets.push({ path: target, by: file, packed: files.has(target) });
    }
    for (const match of source.matchAll(/\bbuiltFile\(\s*(?:(['"])([^'"\n]+)\1|([A-Z][A-Z0-9_]*))\s*\)/g)) {
      const name = match[2] ?? constants.get(match[3]);
      if (name === undefined) {
        assets.push({ path: `builtFile(${match[3]})`, by: file, packed: false });
        continue;
      }
      assets.push({ path: `dist/${name}`, by: file, packed: files.has(`dist/${name}`) });
    }
  }
  const seen = new Set();
  return assets.filter((a) => (seen.has(a.path) ? false : seen.add(a.path)));
}

function bareImports(source) {
  const specifiers = new Set();
  const patterns = [
    /\bfrom\s*(['"])([^'"\n]+)\1/g,
    /\bimport\s*(['"])([^'"\n]+)\1/g,
    /\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g,
    /\brequire\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) {
      const specifier = match[2];
      // `${...}`: a template inside a program the code sends elsewhere (a sandbox's bootstrap), not an import here.
      if (
        !specifier.startsWith('.') &&
        !specifier.startsWith('/') &&
        !specifier.startsWith('#') &&
        !specifier.startsWith('${')
      )
        specifiers.add(specifier);
    }
  }
  return specifiers;
}

/** The caller's environment with nothing that points into the repository (nor npm/pnpm script state). */
function projectEnv() {
  const env = {};
  const dropped = [];
  const repo = realpathSync(root);
  const intoRepo = (value) => value.includes(repo) || value.includes(root);
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (['NODE_PATH', 'INIT_CWD', 'OLDPWD', 'PWD'].includes(key) || /^(npm_|pnpm_|PNPM_|TURBO_|VITEST)/.test(key)) {
      dropped.push(key);
    } else if (key === 'PATH') {
      // No repository bin dir, nor a node_modules/.bin that an npm or pnpm script put first.
      env.PATH = value
        .split(':')
        .filter((entry) => entry && !intoRepo(entry) && !/\/node_modules\/(\.bin|npm\/)/.test(entry))
        .join(':');
    } else if (intoRepo(value)) dropped.push(key);
    else env[key] = value;
  }
  env.npm_config_update_notifier = 'false';
  const npmState = dropped.filter((key) => key.startsWith('npm_')).length;
  const named = dropped.filter((key) => !key.startsWith('npm_')).sort();
  print(`    env for the project: PATH=${env.PATH}`);
  print(`    dropped: ${[...named, ...(npmState ? [`${npmState} npm_* variables`] : [])].join(', ') || 'nothing'}`);
  return env;
}

function installProject(project, packages, env) {
  heading(`blank project outside the workspace: ${project}`);
  const inside = (dir) => relative(realpathSync(root), realpathSync(dir)).split('/')[0] !== '..';
  check('project is outside the workspace', !inside(project), project);
  sh('npm', ['init', '-y'], { cwd: project, env, quiet: true });
  // ESM, as a consumer of ESM-only packages is.
  sh('npm', ['pkg', 'set', 'type=module'], { cwd: project, env });
  const typescript = rootPackage.devDependencies.typescript;
  const nodeTypes = rootPackage.devDependencies['@types/node'];
  const install = sh(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      ...packages.map((p) => p.tarball),
      `typescript@${typescript}`,
      `@types/node@${nodeTypes}`,
    ],
    { cwd: project, env, timeoutMs: 10 * 60_000 },
  );
  check(
    'npm install of the tarballs (+ typescript, @types/node)',
    install.status === 0,
    install.status === 0 ? '' : install.stderr.trim().split('\n').slice(-5).join(' | '),
  );
  if (install.status !== 0) throw new Error('npm install failed');
  // Each @cordon package once, from its tarball: npm must not have fetched one from the registry.
  const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8'));
  const cordonEntries = Object.entries(lock.packages ?? {}).filter(([path]) =>
    /(^|\/)node_modules\/@cordon\//.test(path),
  );
  const notFromTarball = cordonEntries.filter(([, entry]) => !String(entry.resolved ?? '').startsWith('file:'));
  const nested = cordonEntries.filter(([path]) => path.split('node_modules/').length > 2);
  print(`    @cordon in the lockfile: ${cordonEntries.map(([path, e]) => `${path} ← ${e.resolved}`).join(', ')}`);
  check(
    'each @cordon package installed once, from its tarball',
    cordonEntries.length === packages.length && notFromTarball.length === 0 && nested.length === 0,
    [...notFromTarball, ...nested].map(([path, e]) => `${path} ← ${e.resolved ?? e.version}`).join(', '),
  );
}

function verifyResolution(project, packages, env) {
  heading('module resolution from the project');
  const specifiers = [
    ...packages.flatMap((p) =>
      Object.keys(p.manifest.exports ?? { '.': null })
        .filter((key) => !key.includes('*') && key !== './package.json')
        .map((key) => (key === '.' ? p.name : `${p.name}/${key.slice(2)}`)),
    ),
  ];
  writeFileSync(
    join(project, 'resolve.mjs'),
    `import { realpathSync } from 'node:fs';\nimport { fileURLToPath } from 'node:url';\n` +
      `for (const s of ${JSON.stringify(specifiers)}) console.log(s + ' ' + realpathSync(fileURLToPath(import.meta.resolve(s))));\n` +
      `console.log('bin/cordon ' + realpathSync('node_modules/.bin/cordon'));\n`,
  );
  const resolved = sh('node', ['resolve.mjs'], { cwd: project, env });
  const modules = realpathSync(join(project, 'node_modules')) + '/';
  const lines = resolved.stdout.trim().split('\n').filter(Boolean);
  const outside = lines.filter((line) => {
    const path = line.slice(line.indexOf(' ') + 1);
    return !path.startsWith(modules) || path.startsWith(realpathSync(root));
  });
  check(
    `every @cordon module and the cordon bin resolve inside the project's node_modules (${lines.length})`,
    resolved.status === 0 && lines.length === specifiers.length + 1 && outside.length === 0,
    resolved.status !== 0 ? resolved.stderr.trim().split('\n')[0] : outside.join(', '),
  );
}

function runConsumer(project, env) {
  heading('consumer script: createExecutor on spawn and docker');
  const backends = skipDocker ? ['spawn'] : ['spawn', 'docker'];
  writeFileSync(
    join(project, 'consumer.mjs'),
    `import { createExecutor } from '@cordon/core';

const backends = ${JSON.stringify(backends)};
let failed = false;
for (const backend of backends) {
  const executor = await createExecutor({ backend });
  try {
    const result = await executor.execute({
      language: 'node',
      code: "process.stdout.write('sum=' + (6 * 7) + ' from ' + process.env.WHO)",
      env: { WHO: 'packed-' + backend },
    });
    const ok = result.status === 'ok' && result.stdout === 'sum=42 from packed-' + backend && result.backend === executor.name;
    console.log(JSON.stringify({ backend, executor: executor.name, status: result.status, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr.slice(0, 300), ok }));
    if (!ok) failed = true;
  } finally {
    await executor.close();
  }
}
process.exitCode = failed ? 1 : 0;
`,
  );
  const run = sh('node', ['consumer.mjs'], { cwd: project, env, timeoutMs: 5 * 60_000 });
  const rows = run.stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
  for (const backend of backends) {
    const row = rows.find((r) => r.backend === backend);
    check(
      `createExecutor({ backend: '${backend}' }) runs node code, stdout as expected`,
      run.status === 0 && row?.ok === true,
      row
        ? `${row.status} ${JSON.stringify(row.stdout)} ${row.stderr}`
        : run.stderr.trim().split('\n').slice(-3).join(' | '),
    );
  }
  if (skipDocker) skip("createExecutor({ backend: 'docker' })", '--skip-docker');
}

function runCli(project, env) {
  const cordon = (argv, options) => sh('npx', ['--no-install', 'cordon', ...argv], { cwd: project, env, ...options });

  heading('npx cordon doctor');
  const doctor = cordon(['doctor']);
  check('cordon doctor exits 0', doctor.status === 0, doctor.stderr.trim());
  const doctorJson = cordon(['doctor', '--json'], { trim: { head: 12, tail: 8 } });
  let report;
  try {
    report = JSON.parse(doctorJson.stdout);
  } catch (error) {
    check('cordon doctor --json prints JSON', false, String(error));
  }
  if (report) {
    const row = (name) => report.backends?.find((b) => b.backend === name);
    check(
      'doctor --json: spawn installed and usable',
      row('spawn')?.installed === true && row('spawn')?.usable === true,
      row('spawn')?.detail,
    );
    if (skipDocker) skip('doctor --json: docker installed and usable', '--skip-docker');
    else
      check(
        'doctor --json: docker installed and usable',
        row('docker')?.installed === true && row('docker')?.usable === true,
        row('docker')?.detail,
      );
    // No cluster is configured for this project: installed is what the packed k8s backend can show.
    check('doctor --json: k8s installed', row('k8s')?.installed === true, row('k8s')?.detail);
    check('doctor --json: auto names a backend', /^(spawn|docker|k8s) \(/.test(String(report.auto)), report.auto);
  }

  heading('npx cordon run');
  writeFileSync(
    join(project, 'program.mjs'),
    "process.stdout.write('hello ' + process.env.GREETING + '\\n');\nprocess.stderr.write('to stderr\\n');\nprocess.exit(3);\n",
  );
  for (const backend of skipDocker ? ['spawn'] : ['spawn', 'docker']) {
    const plain = cordon(['run', '--backend', backend, '--env', 'GREETING=packed', 'program.mjs']);
    check(
      `cordon run --backend ${backend}: output and exit code passed through`,
      plain.status === 3 && plain.stdout === 'hello packed\n' && plain.stderr.includes('to stderr'),
      `exit ${plain.status}, stdout ${JSON.stringify(plain.stdout)}, stderr ${JSON.stringify(plain.stderr.slice(0, 300))}`,
    );
  }
  if (skipDocker) skip('cordon run --backend docker', '--skip-docker');
  writeFileSync(join(project, 'answer.py'), 'print(6 * 7)\n');
  const json = cordon(['run', '--backend', 'spawn', '--json', '--timeout', '10000', 'answer.py'], {
    trim: { head: 5, tail: 2 },
  });
  let result;
  try {
    result = JSON.parse(json.stdout);
  } catch {
    result = undefined;
  }
  check(
    'cordon run --json answer.py (python by extension) prints one ExecutionResult',
    json.status === 0 && result?.backend === 'spawn' && result?.status === 'ok' && result?.stdout === '42\n',
    json.stdout.slice(0, 300) || json.stderr.slice(0, 300),
  );

  heading('npx cordon conformance --backend spawn');
  const conformance = cordon(['conformance', '--backend', 'spawn'], {
    timeoutMs: 15 * 60_000,
    trim: { head: 10, tail: 45 },
    // stderr is the progress, one line per probe: its first and last lines are enough.
    trimStderr: { head: 2, tail: 3 },
  });
  check(
    'cordon conformance --backend spawn exits 0',
    conformance.status === 0,
    conformance.stderr.trim().split('\n').slice(-3).join(' | '),
  );
}

function typecheck(project, env) {
  heading('TypeScript consumer (installed tsc, strict, no skipLibCheck)');
  writeFileSync(
    join(project, 'consumer.ts'),
    `import {
  BackendUnavailableError,
  createExecutor,
  type CreateExecutorOptions,
  type ExecutionRequest,
  type ExecutionResult,
  type Executor,
} from '@cordon/core';
import { BaseExecutor, type RunContext } from '@cordon/core/backend';
import { conformanceExitCode, type ConformanceReport, type Verdict } from '@cordon/core/conformance';
import spawnBackend, { SpawnExecutor, type Tier } from '@cordon/backend-spawn';
import { DockerExecutor, DEFAULT_IMAGE, type DockerExecutorOptions } from '@cordon/backend-docker';
import k8sBackend, { rbacYaml, type RbacOptions } from '@cordon/backend-k8s';

const options: CreateExecutorOptions = { backend: 'spawn', maxConcurrency: 2 };
const request: ExecutionRequest = { language: 'python', code: 'print(42)', timeoutMs: 5_000 };

export async function runOnce(): Promise<string> {
  const executor: Executor = await createExecutor(options);
  try {
    const result: ExecutionResult = await executor.execute(request);
    return result.stdout;
  } catch (error) {
    if (error instanceof BackendUnavailableError) return error.message;
    throw error;
  } finally {
    await executor.close();
  }
}

export const names: string[] = [spawnBackend.name, k8sBackend.name];
export const image: string = DEFAULT_IMAGE;
export const dockerOptions: DockerExecutorOptions = { image };
export const dropIn: typeof DockerExecutor = DockerExecutor;
export const spawnClass: typeof SpawnExecutor = SpawnExecutor;
export const tier: Tier | undefined = undefined;
export const base: typeof BaseExecutor = BaseExecutor;
export type Context = RunContext;
export const exitCode = (report: ConformanceReport): number => conformanceExitCode(report);
export const verdict: Verdict | undefined = undefined;
export const rbac = (rbacOptions: RbacOptions): string => rbacYaml(rbacOptions);
// @ts-expect-error: a wrong field type must be reported (the types are really checked).
export const wrong: ExecutionRequest = { language: 'node', code: 42 };
`,
  );
  const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const [module, moduleResolution] of [
    ['node16', 'node16'],
    ['esnext', 'bundler'],
  ]) {
    const config = `tsconfig.${moduleResolution}.json`;
    writeFileSync(
      join(project, config),
      JSON.stringify(
        {
          compilerOptions: {
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            target: 'es2022',
            lib: ['es2022', 'esnext.disposable'],
            module,
            moduleResolution,
            types: ['node'],
          },
          files: ['consumer.ts'],
        },
        null,
        2,
      ),
    );
    const result = sh('node', [tsc, '-p', config], { cwd: project, env });
    check(
      `tsc: consumer.ts typechecks (module ${module}, moduleResolution ${moduleResolution})`,
      result.status === 0,
      result.stdout.trim().split('\n').slice(0, 4).join(' | '),
    );
  }
}
