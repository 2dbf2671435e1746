import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BackendAvailability, type CordonBackend, type Executor } from '@cordon/core';
import { OWNER_ID, type ConformanceAdapter } from '@cordon/core/backend';
import { detectHost } from './host.js';
import { describeLauncher } from './launcher.js';
import { findLeftovers } from './reaper.js';
import { parseSpawnOptions } from './options.js';
import { kernelRemedy } from './remedy.js';
import { SHARED_CONTROL_UID } from './sandbox-user.js';
import { SpawnExecutor } from './spawn-executor.js';

/**
 * Raw sockets need CAP_NET_RAW in the host's network namespace. No spawn sandbox has
 * it, not even a network-open control (it runs as an unprivileged uid with every
 * capability dropped), so no control can deliver and the probe cannot be judged.
 */
const RAW_SOCKETS_HAVE_NO_CONTROL =
  'raw sockets need CAP_NET_RAW in the host network namespace, which no spawn sandbox has, not even a network-open control (unprivileged uid, all capabilities dropped)';

const resolverSiblings = new WeakMap<SpawnExecutor, SpawnExecutor>();
const sharedUserSiblings = new WeakMap<SpawnExecutor, SpawnExecutor>();

const NOT_ROOT_SHARES_USER =
  "not root: every spawn sandbox runs as the caller's own uid (only root can give each a uid of its own), so per-user kernel limits are shared between sandboxes and the probe cannot hold";

/** One sibling per executor and kind, however often the adapter is asked for; closed with the executor. */
async function sibling(
  cache: WeakMap<SpawnExecutor, SpawnExecutor>,
  executor: SpawnExecutor,
  options: Record<string, unknown>,
): Promise<SpawnExecutor> {
  const known = cache.get(executor);
  if (known) return known;
  const created = await SpawnExecutor.create({ ...executor.options, ...options });
  if (cache.has(executor)) {
    await created.close();
    return cache.get(executor)!;
  }
  cache.set(executor, created);
  executor.closeWith(created);
  return created;
}

const CANARY_RESOLV_CONF = fileURLToPath(new URL('../etc/resolv.conf.canary', import.meta.url));

/** Whether UDP and TCP `port` can be bound on `address` here (binding 53 needs root). */
async function portIsFree(address: string, port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, address, () => server.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, address, () => socket.close(() => resolve(true)));
  });
}

async function availability(options: Record<string, unknown> = {}): Promise<BackendAvailability> {
  try {
    const parsed = parseSpawnOptions(options);
    const host = await detectHost(parsed);
    const cgroups = host.cgroups ? `cgroup ${host.cgroups.version}` : 'rlimits only (no writable cgroups)';
    if (!host.perlPath)
      return { usable: false, detail: 'perl is not installed', remedy: 'Install perl-base (Debian/Ubuntu) or perl.' };
    if (host.userNamespaces && parsed.isolation !== 'advisory') {
      const launcher = host.launcher!;
      const version =
        launcher.kind === 'bubblewrap'
          ? await promisify(execFile)(launcher.command, ['--version']).then(
              ({ stdout }) => stdout.trim(),
              () => undefined,
            )
          : undefined;
      return {
        usable: true,
        detail: `kernel isolation: ${describeLauncher(launcher, version)}, ${cgroups}`,
        network: 'kernel',
      };
    }
    return {
      usable: true,
      detail: `advisory isolation only (${host.kernelProblem ?? 'forced'}), ${cgroups}: network:'none' runs are refused unless accepted`,
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
  availability,
  conformance: async (executor: Executor): Promise<ConformanceAdapter> => {
    if (!(executor instanceof SpawnExecutor))
      throw new TypeError('the spawn backend conformance adapter needs a SpawnExecutor');
    // Probe D2 needs the sandboxes' system resolver to be the DNS canary, so a plain getaddrinfo
    // that leaked would show in its log: probes and controls run on a sibling executor whose
    // resolv.conf names 127.0.0.1, where the canary then listens on port 53 (root only, port free).
    const resolverIsCanary = executor.isolation === 'kernel' && !executor.closed && (await portIsFree('127.0.0.1', 53));
    const underTest = resolverIsCanary
      ? await sibling(resolverSiblings, executor, { resolvConf: CANARY_RESOLV_CONF })
      : executor;
    // The same setup with one fixed uid for every sandbox: it must starve a tenant where the executor under test does not.
    const isRoot = process.getuid?.() === 0;
    const sharedUserControl =
      isRoot && !executor.closed
        ? await sibling(sharedUserSiblings, underTest, {
            sandboxUid: SHARED_CONTROL_UID,
            sandboxGid: SHARED_CONTROL_UID,
          })
        : undefined;
    return {
      executor: underTest,
      ...(sharedUserControl ? { sharedUserControl } : {}),
      // Sandboxes with network 'open' share the host's network namespace, so host loopback canaries are decisive.
      canaryNetwork: {
        bindIPv4: '127.0.0.1',
        reachIPv4: '127.0.0.1',
        bindIPv6: '::1',
        reachIPv6: '::1',
        sharesHostLoopback: true,
        ...(resolverIsCanary ? { dnsPort: 53 } : {}),
      },
      // The executors share the owner: idle pool members of any are held on purpose, not leaked.
      leftovers: async () => {
        // A pool still filling is work in progress, not a leak: let both settle first.
        const executors = [executor, underTest, ...(sharedUserControl ? [sharedUserControl] : [])];
        await Promise.all(executors.filter((one) => !one.closed).map((one) => one.settled()));
        return findLeftovers(
          OWNER_ID,
          executor.cgroupDriver,
          new Set(executors.flatMap((one) => [...one.idleSandboxIds])),
        );
      },
      notApplicable: {
        'R1:raw-icmp': RAW_SOCKETS_HAVE_NO_CONTROL,
        'R1:ping': RAW_SOCKETS_HAVE_NO_CONTROL,
        ...(isRoot ? {} : { 'shared-resources:per-user': NOT_ROOT_SHARES_USER }),
      },
    };
  },
};
