import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SESSION_ID, type BackendProbe, type ConformanceAdapter, type CordonBackend, type Executor } from '@cordon/core';
import { detectHost } from './host.js';
import { findLeftovers } from './leftovers.js';
import { parseSpawnOptions } from './options.js';
import { kernelRemedy } from './remedy.js';
import { SpawnExecutor } from './spawn-executor.js';

/**
 * Raw sockets need CAP_NET_RAW in the host's network namespace. No spawn sandbox has
 * it, not even a network-open control (it runs as an unprivileged uid with every
 * capability dropped), so no control can deliver and the probe cannot be judged.
 */
const RAW_SOCKETS_HAVE_NO_CONTROL = 'raw sockets need CAP_NET_RAW in the host network namespace, which no spawn sandbox has, not even a network-open control (unprivileged uid, all capabilities dropped)';

async function probe(options: Record<string, unknown> = {}): Promise<BackendProbe> {
  try {
    const parsed = parseSpawnOptions(options);
    const host = await detectHost(parsed);
    const cgroups = host.cgroups ? `cgroup ${host.cgroups.version}` : 'rlimits only (no writable cgroups)';
    if (!host.perlPath) return { usable: false, detail: 'perl is not installed', remedy: 'Install perl-base (Debian/Ubuntu) or perl.' };
    if (host.userNamespaces && parsed.tier !== 'advisory') {
      const version = await promisify(execFile)(host.bwrapPath!, ['--version']).then(({ stdout }) => stdout.trim(), () => 'bubblewrap');
      return { usable: true, detail: `kernel tier: ${version}, ${cgroups}`, network: 'kernel' };
    }
    return {
      usable: true,
      detail: `advisory tier only (${host.kernelProblem ?? 'forced'}), ${cgroups}: network:'none' runs are refused unless accepted`,
      remedy: kernelRemedy(host.kernelProblem),
      network: 'advisory',
    };
  } catch (error) {
    return { usable: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

/** The spawn backend module: what `createExecutor({ backend: 'spawn' })` loads. */
export const backend: CordonBackend = {
  name: 'spawn',
  create: (options) => SpawnExecutor.create(options),
  probe,
  conformance: (executor: Executor): Promise<ConformanceAdapter> => {
    if (!(executor instanceof SpawnExecutor)) throw new TypeError('the spawn backend conformance adapter needs a SpawnExecutor');
    return Promise.resolve({
      executor,
      // Sandboxes with network 'open' share the host's network namespace, so host loopback canaries are decisive.
      canaryNetwork: { bindIPv4: '127.0.0.1', reachIPv4: '127.0.0.1', bindIPv6: '::1', reachIPv6: '::1', sharesHostLoopback: true },
      leftovers: () => findLeftovers(SESSION_ID, executor.cgroupDriver, executor.idleSandboxIds),
      notApplicable: {
        'R1:raw-icmp': RAW_SOCKETS_HAVE_NO_CONTROL,
        'R1:ping': RAW_SOCKETS_HAVE_NO_CONTROL,
      },
    });
  },
};
