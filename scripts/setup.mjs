// Makes a fresh checkout runnable: finds pnpm (or runs the pinned one through npx),
// installs the workspace from the lockfile and builds every package.
// Used by `npm test`, `npm run demo` and `npm run bench`; only Node.js and npm are assumed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager; // "pnpm@x.y.z"

/** The command that runs pnpm here: the installed one when its version matches, else the pinned one via npx. */
export function pnpmCommand() {
  const version = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (version.status === 0 && `pnpm@${version.stdout.trim()}` === pinned) return ['pnpm'];
  return ['npx', '--yes', pinned];
}

// A first run prints no third-party banner: turbo's telemetry notice is turned off for
// what this script starts (it otherwise shows once per machine, and reports usage), and so
// is pnpm's "update available" box (as .npmrc does for npm's own notice).
process.env.TURBO_TELEMETRY_DISABLED ??= '1';
process.env.npm_config_update_notifier ??= 'false';

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

export function step(title) {
  process.stderr.write(`\n\x1b[1m▶ ${title}\x1b[0m\n`);
}

/** Installs and builds; exits the process on failure. */
export function setup({ quiet = false } = {}) {
  const pnpm = pnpmCommand();
  const [command, ...prefix] = pnpm;
  if (!quiet) step(`install (${pnpm.join(' ')} install --frozen-lockfile)`);
  const stdio = quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit';
  if (!existsSync(join(root, 'node_modules', '.modules.yaml')) || process.env.CI) {
    if (run(command, [...prefix, 'install', '--frozen-lockfile'], { stdio }) !== 0) process.exit(1);
  }
  if (!quiet) step('build');
  if (run(command, [...prefix, 'run', '-s', 'build', '--output-logs=errors-only'], { stdio }) !== 0) process.exit(1);
  return pnpm;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) setup();
