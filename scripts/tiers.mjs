// The test tiers `npm test` knows. A tier is present when its package is in the
// checkout, runs when `detect()` says this machine can run it, and is a list of steps
// (a package's vitest suite, or a command whose outcome `check` judges).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './setup.mjs';

const cordon = (...args) => [process.execPath, join(root, 'packages/core/dist/cli/main.js'), ...args];
const has = (path) => () => existsSync(join(root, path));
const ok = (command, args) => spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;

/** Judges `cordon conformance --json`: the run must be clean (exit 0, every probe blocked or holding). */
function strictConformance(result) {
  const report = parseJson(result.stdout);
  if (!report) return noReport(result);
  printReport(report);
  const tally = tallyVerdicts(report);
  return {
    ok: result.status === 0,
    detail: `${formatTally(tally)}${failures(report, ['LEAK', 'FAILS', 'invalid', 'not-enforced'])}`,
  };
}

/**
 * Judges advisory isolation: it must run and be honest — probes patching cannot stop
 * are `not-enforced` (so the CLI exits non-zero), and nothing is `LEAK` or `invalid`.
 */
function advisoryConformance(result) {
  const report = parseJson(result.stdout);
  if (!report) return noReport(result);
  printReport(report);
  const tally = tallyVerdicts(report);
  const honest = (tally['not-enforced'] ?? 0) > 0 && !tally.LEAK && !tally.invalid && result.status !== 0;
  return {
    ok: honest,
    detail: `${formatTally(tally)}; expected some not-enforced, no LEAK/invalid, non-zero exit${honest ? '' : failures(report, ['LEAK', 'invalid'])}`,
  };
}

/**
 * Judges conformance on an image that is not cordon's: everything it can run must be
 * blocked or hold; a probe may be `invalid` only for a tool the image really lacks
 * (`tool missing: python3`), and then only a tool in `lacks`.
 */
function foreignConformance(lacks) {
  return (result) => {
    const report = parseJson(result.stdout);
    if (!report) return noReport(result);
    printReport(report);
    const tally = tallyVerdicts(report);
    const wrong = (report.results ?? []).filter(({ verdict, detail }) => {
      if (verdict === 'LEAK' || verdict === 'FAILS' || verdict === 'not-enforced') return true;
      if (verdict !== 'invalid') return false;
      const tools = /^tool missing: (.*)$/.exec(String(detail ?? '').split(' | ')[0] ?? '')?.[1];
      return !tools || !tools.split(', ').every((tool) => lacks.includes(tool.replace(/ \((sandbox|control)\)$/, '')));
    });
    const rows = wrong.map(
      ({ id, verdict, detail }) => `; ${verdict} ${id}: ${String(detail).replace(/\s+/g, ' ').slice(0, 200)}`,
    );
    return {
      ok: wrong.length === 0 && (tally.blocked ?? 0) > 0,
      detail: `${formatTally(tally)}; invalid allowed only for a missing ${lacks.join('/') || 'nothing'}${rows.join('')}`,
    };
  };
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function noReport(result) {
  process.stdout.write(result.stdout ?? '');
  return { ok: false, detail: `no JSON report (exit ${result.status})` };
}

/** The report as a compact table (the CLI's --json carries every probe and control in full). */
function printReport(report) {
  for (const { id, verdict, detail } of report.results ?? []) {
    console.log(
      `  ${String(id).padEnd(24)} ${String(verdict).padEnd(15)} ${String(detail ?? '')
        .replace(/\s+/g, ' ')
        .slice(0, 110)}`,
    );
  }
}

function tallyVerdicts(report) {
  const tally = {};
  for (const { verdict } of report.results ?? []) tally[verdict] = (tally[verdict] ?? 0) + 1;
  return tally;
}

/** The failing rows, named in the summary line: CI logs keep the summary when they cut the middle. */
function failures(report, verdicts) {
  const rows = (report.results ?? []).filter(({ verdict }) => verdicts.includes(verdict));
  return rows
    .map(
      ({ id, verdict, detail }) =>
        `; ${verdict} ${id}: ${String(detail ?? '')
          .replace(/\s+/g, ' ')
          .slice(0, 200)}`,
    )
    .join('');
}

const formatTally = (tally) =>
  Object.entries(tally)
    .map(([verdict, count]) => `${count} ${verdict}`)
    .join(', ');

/** The spawn backend's row in `cordon doctor --json`'s output, or undefined. */
const spawnRow = (stdout) => parseJson(stdout ?? '')?.backends?.find((row) => row.backend === 'spawn');

function doctorSpawnRow() {
  const [command, ...args] = cordon('doctor', '--json');
  return spawnRow(spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 }).stdout);
}

/**
 * The spawn launcher this run must use: CI says which (its second spawn run masks
 * bubblewrap: CORDON_TEST_EXPECT_LAUNCHER=perl), else bubblewrap where it is installed.
 */
function expectedLauncher() {
  // The fixed path the backend looks at first, not PATH (CI masks exactly this file).
  return process.env.CORDON_TEST_EXPECT_LAUNCHER ?? (ok('/usr/bin/bwrap', ['--version']) ? 'bubblewrap' : 'perl');
}

function launcherNamed(result) {
  const spawn = spawnRow(result.stdout);
  const want = `launcher ${expectedLauncher()}`;
  return { ok: Boolean(spawn?.detail?.includes(want)), detail: `spawn: ${spawn?.detail ?? 'no row'} (want "${want}")` };
}

export const tiers = [
  {
    name: 'core',
    present: has('packages/core'),
    detect: () => ({ ok: true }),
    steps: [
      { title: 'vitest @cordon/core (contract, CLI, suite self-test)', vitest: 'core' },
      { title: 'vitest @cordon/bench (statistics, results schema)', vitest: '../bench' },
      { title: 'vitest @cordon/egress-broker (policy enforcement on real sockets)', vitest: 'egress-broker' },
    ],
  },
  {
    name: 'spawn',
    present: has('packages/backend-spawn'),
    // Usable when either launcher (bubblewrap, or the perl one on perl-base) can create the
    // sandbox's namespaces here: the backend's own probe, through `cordon doctor`.
    detect: () => {
      const spawn = doctorSpawnRow();
      if (!spawn) return { ok: false, why: 'cordon doctor did not report the spawn backend', enable: 'pnpm build' };
      if (spawn.usable && spawn.network === 'kernel') return { ok: true };
      return { ok: false, why: spawn.detail, enable: spawn.remedy ?? 'see cordon doctor' };
    },
    steps: [
      {
        title: `cordon doctor names the launcher (${expectedLauncher()})`,
        command: cordon('doctor', '--json'),
        check: launcherNamed,
      },
      { title: 'vitest @cordon/backend-spawn', vitest: 'backend-spawn' },
      {
        title: 'cordon conformance --backend spawn',
        command: cordon('conformance', '--backend', 'spawn', '--json'),
        check: strictConformance,
      },
      {
        title: 'cordon conformance --backend spawn (advisory isolation)',
        command: cordon('conformance', '--backend', 'spawn', '--option', 'isolation=advisory', '--json'),
        check: advisoryConformance,
      },
    ],
  },
  {
    name: 'docker',
    present: has('packages/backend-docker'),
    detect: () => {
      if (!ok('docker', ['info']))
        return {
          ok: false,
          why: 'no Docker daemon is reachable',
          enable: 'bash scripts/docker-up.sh (installs docker.io and runsc, starts dockerd)',
        };
      if (!ok('bash', [join(root, 'images/runtime/build-offline.sh'), '--check']))
        return {
          ok: false,
          why: 'the cordon runtime image is not built',
          enable: 'npx cordon image build',
        };
      return { ok: true };
    },
    steps: [
      { title: 'vitest @cordon/backend-docker', vitest: 'backend-docker' },
      {
        title: 'cordon conformance --backend docker',
        command: cordon('conformance', '--backend', 'docker', '--json'),
        check: strictConformance,
      },
    ],
  },
  {
    // Users' own images (any image with node and/or python3): images/test/build-foreign.sh
    // builds three from other bases. Conformance on each, as far as its tools go.
    name: 'docker-foreign',
    present: has('images/test/build-foreign.sh'),
    detect: () => {
      if (!ok('docker', ['info']))
        return { ok: false, why: 'no Docker daemon is reachable', enable: 'bash scripts/docker-up.sh' };
      if (!ok('bash', [join(root, 'images/test/build-foreign.sh'), '--check']))
        return { ok: false, why: 'the foreign test images are not built', enable: 'bash images/test/build-foreign.sh' };
      return { ok: true };
    },
    steps: [
      ['cordon-test/minimal-node:1', ['python3', 'bash', 'curl', 'nc', 'wget', 'ping', 'python']],
      ['cordon-test/python-only:1', ['node']],
      ['cordon-test/node-python-stripe:1', ['nc', 'wget', 'ping']],
    ].map(([image, lacks]) => ({
      title: `cordon conformance --backend docker --option image=${image}`,
      command: cordon('conformance', '--backend', 'docker', '--option', `image=${image}`, '--json'),
      check: foreignConformance(lacks),
    })),
  },
  {
    name: 'gvisor',
    present: has('packages/backend-docker'),
    detect: () => {
      const info = spawnSync('docker', ['info', '--format', '{{json .Runtimes}}'], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      if (info.status !== 0)
        return { ok: false, why: 'no Docker daemon is reachable', enable: 'bash scripts/docker-up.sh' };
      if (!info.stdout.includes('runsc'))
        return {
          ok: false,
          why: 'Docker has no runsc runtime configured',
          enable: 'bash scripts/docker-up.sh (configures runsc in /etc/docker/daemon.json)',
        };
      return { ok: true };
    },
    steps: [
      {
        title: 'cordon conformance --backend docker --option runtime=runsc',
        command: cordon('conformance', '--backend', 'docker', '--option', 'runtime=runsc', '--json'),
        check: strictConformance,
      },
    ],
  },
  {
    name: 'k8s',
    present: has('packages/backend-k8s'),
    detect: () => {
      const kubeconfig = process.env.KUBECONFIG;
      const enable =
        'export KUBECONFIG=$(pnpm -s cluster:up | tail -1)   (builds and starts the test cluster; see docs/test-cluster.md)';
      if (!kubeconfig) return { ok: false, why: 'KUBECONFIG is not set (no test cluster)', enable };
      if (!existsSync(kubeconfig)) return { ok: false, why: `KUBECONFIG=${kubeconfig} does not exist`, enable };
      return { ok: true };
    },
    steps: [
      {
        title: 'cluster enforces NetworkPolicy (control, deny-all, restore)',
        command: [process.execPath, join(root, 'cluster/test/network-policy.mjs')],
      },
      { title: 'vitest @cordon/backend-k8s', vitest: 'backend-k8s' },
      {
        title: 'cordon conformance --backend k8s',
        command: cordon('conformance', '--backend', 'k8s', '--json'),
        check: strictConformance,
      },
    ],
  },
  {
    // The same users' images on the cluster (cluster:up imports cordon-test/*): the two that
    // differ most from cordon's (the third runs in the k8s vitest suite and on docker).
    name: 'k8s-foreign',
    present: has('images/test/build-foreign.sh'),
    detect: () => {
      const kubeconfig = process.env.KUBECONFIG;
      const enable = 'export KUBECONFIG=$(pnpm -s cluster:up | tail -1)   (after bash images/test/build-foreign.sh)';
      if (!kubeconfig || !existsSync(kubeconfig)) return { ok: false, why: 'no test cluster (KUBECONFIG)', enable };
      return { ok: true };
    },
    steps: [
      ['cordon-test/minimal-node:1', ['python3', 'bash', 'curl', 'nc', 'wget', 'ping', 'python']],
      ['cordon-test/python-only:1', ['node']],
    ].map(([image, lacks]) => ({
      title: `cordon conformance --backend k8s --option image=${image}`,
      command: cordon('conformance', '--backend', 'k8s', '--option', `image=${image}`, '--json'),
      check: foreignConformance(lacks),
    })),
  },
];
