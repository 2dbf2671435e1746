import { readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CanaryEndpoints } from '../../types.js';
import { bashProbe } from '../prelude.js';
import { skippedOutcome, unusable, type PropertyOutcome, type PropertyProbe } from './probe.js';
import { debug } from '../../../backend/debug.js';

const ID = 'host-identifiers';
/** Where container runtimes keep their state: any of it in a mount table names the host's layout. */
const RUNTIME_DIRS = ['/var/lib/docker', '/var/lib/containerd', '/var/lib/kubelet'];
/** A full container id (docker, containerd, CRI-O): 64 hex digits. */
const CONTAINER_ID = /(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/;

/**
 * Host paths a sandbox's mount table must not show: this process's working
 * directory and the directories cordon is installed in (its package and the
 * project holding it). Paths of fewer than two levels are too common to mean
 * anything and are left out.
 */
export function hostPathsToHide(): string[] {
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch (error) {
      debug('conformance.probe', () => `realpath ${path}`, error);
      return path;
    }
  };
  // The package directory: this file sits four levels down, in {src,dist}/conformance/probes/properties/.
  const packageDir = real(fileURLToPath(new URL('../../../..', import.meta.url))).replace(/\/$/, '');
  const installed = packageDir.indexOf('/node_modules/');
  const project = installed >= 0 ? packageDir.slice(0, installed) : dirname(dirname(packageDir));
  const paths = [real(process.cwd()), packageDir, project].filter(
    (path) => path.split('/').filter(Boolean).length >= 2,
  );
  return [...new Set(paths)];
}

/** The host paths and runtime traces a mountinfo line shows (its root or mount point under a hidden path, a runtime dir, `lowerdir=`). */
export function mountLeaks(line: string, hidden: readonly string[]): string[] {
  const fields = line.split(' ');
  const places = [fields[3] ?? '', fields[4] ?? ''];
  const under = (path: string) => places.some((place) => place === path || place.startsWith(`${path}/`));
  return [
    ...hidden.filter(under),
    ...RUNTIME_DIRS.filter((dir) => line.includes(dir)),
    ...(line.includes('lowerdir=') ? ['overlay lowerdir='] : []),
  ];
}

const code = (endpoints: CanaryEndpoints) =>
  bashProbe(
    endpoints,
    '',
    [],
    `boot=; read -r boot < /proc/sys/kernel/random/boot_id 2>/dev/null; echo "CORDON-FACT bootId=\${boot:-unreadable}"
n=0; while IFS= read -r line; do echo "CORDON-MOUNT $line"; n=$((n + 1)); done < /proc/self/mountinfo; echo "CORDON-FACT mountLines=$n"
n=0; while IFS= read -r line; do echo "CORDON-CGROUP $line"; n=$((n + 1)); done < /proc/self/cgroup; echo "CORDON-FACT cgroupLines=$n"`,
  );

/**
 * Host identifiers: one sandbox run prints its boot id, mount table and cgroup
 * paths; the host judges. Boot id: must differ from the host's (read here).
 * Mount table: no host path of this process or its packages, no container
 * runtime directory, no overlay `lowerdir=`. Cgroups: no 64-hex container id.
 * The control is that each was read at all.
 */
export const hostIdentifiers: PropertyProbe = {
  id: `${ID}:boot-id`,
  title: "the sandbox's boot id is not the host's",
  language: 'bash',
  yields: [`${ID}:mount-paths`, `${ID}:cgroup-ids`],
  async check(context) {
    const ids = [`${ID}:boot-id`, `${ID}:mount-paths`, `${ID}:cgroup-ids`];
    const skipped = ids.map((id) => skippedOutcome(context, hostIdentifiers, id));
    if (skipped.every((outcome) => outcome !== undefined))
      return skipped.filter((outcome): outcome is PropertyOutcome => outcome !== undefined);
    const run = await context.run('sandbox', { language: 'bash', code: code(context.endpoints) });
    const stdout = run.result?.stdout ?? '';
    const prefixed = (prefix: string) =>
      stdout
        .split('\n')
        .filter((line) => line.startsWith(prefix))
        .map((line) => line.slice(prefix.length));
    const mounts = prefixed('CORDON-MOUNT ');
    const cgroups = prefixed('CORDON-CGROUP ');
    const facts = run.output.facts;
    const error = unusable(run, 'cgroupLines');

    const hostBoot = readHost('/proc/sys/kernel/random/boot_id');
    const boot = facts.bootId ?? '?';
    const hidden = hostPathsToHide();
    const leaks = new Map<string, string>();
    for (const line of mounts)
      for (const leak of mountLeaks(line, hidden)) if (!leaks.has(leak)) leaks.set(leak, mountPlace(line));
    // Container ids in other mounts' sources are the mount-paths check's; this one is about cgroups.
    const cgroupMounts = mounts.filter((line) => /\s-\scgroup2?\s/.test(line));
    const ids64 = [...cgroupMounts, ...cgroups]
      .map((line) => CONTAINER_ID.exec(line)?.[0])
      .filter((id): id is string => id !== undefined);

    const outcomes: PropertyOutcome[] = [
      skipped[0] ?? {
        id: ids[0],
        observation: {
          holds: boot !== hostBoot,
          reason:
            boot === hostBoot
              ? `the sandbox reads the host's boot id ${boot}`
              : boot === 'unreadable'
                ? 'unreadable inside'
                : `its own (${boot})`,
          controlOk: hostBoot !== undefined && hostBoot !== '',
          controlReason: "this host's boot id could not be read",
          ...(error ? { error } : {}),
        },
        probe: run.record,
      },
      skipped[1] ?? {
        id: ids[1],
        title:
          'the mount table shows no host path of this process or its packages, no container runtime directory, no overlay lowerdir=',
        observation: {
          holds: leaks.size === 0,
          reason:
            leaks.size > 0
              ? `shows ${[...leaks]
                  .slice(0, 6)
                  .map(([leak, where]) => `${leak} (${where})`)
                  .join('; ')}`
              : `${mounts.length} mounts, none naming the host (checked ${hidden.join(', ')}, ${RUNTIME_DIRS.join(', ')}, lowerdir=)`,
          controlOk: mounts.length > 0,
          controlReason: '/proc/self/mountinfo could not be read inside, so its silence proves nothing',
          ...(error ? { error } : {}),
        },
        probe: run.record,
      },
      skipped[2] ?? {
        id: ids[2],
        title: '/proc/self/cgroup and the cgroup mounts show no 64-hex container id',
        observation: {
          holds: ids64.length === 0,
          reason:
            ids64.length > 0
              ? `shows ${[...new Set(ids64)].slice(0, 3).join(', ')}`
              : `none in ${cgroups.length} cgroup lines and ${cgroupMounts.length} cgroup mounts`,
          // gVisor has no /proc/self/cgroup: a readable mount table still shows the probe looked.
          controlOk: cgroups.length > 0 || mounts.length > 0,
          controlReason: 'neither /proc/self/cgroup nor /proc/self/mountinfo could be read inside',
          ...(error ? { error } : {}),
        },
        probe: run.record,
      },
    ];
    return outcomes;
  },
};

/** `root on mountpoint` of a mountinfo line (just the mount point when they are the same). */
function mountPlace(line: string): string {
  const [root = '', mountPoint = ''] = line.split(' ').slice(3, 5);
  return root === mountPoint ? mountPoint : `${root} on ${mountPoint}`;
}

function readHost(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    debug('conformance.probe', () => `read ${path}`, error);
    return undefined;
  }
}
