import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { debug, ignored, LABELS, MANAGED_BY, OWNER_ID } from '@cordon/core/backend';
import { BACKEND_NAME } from './backend-name.js';
import { DOCKER_LABELS } from './container-spec.js';
import type { DockerApi } from './docker-api.js';

export interface DualStackNetwork {
  name: string;
  gatewayIPv4: string;
  gatewayIPv6: string;
  close(): Promise<void>;
}

const ACCEPT_DAD = '/proc/sys/net/ipv6/conf/default/accept_dad';

/**
 * A dual-stack bridge network for conformance control runs, so the IPv6 probes get
 * a positive control (Docker's default bridge has no IPv6). Only possible against
 * a local daemon, as root. The bridge is made without duplicate address detection:
 * otherwise its gateway address stays "tentative" until a container joins, and the
 * host canaries could not bind it. Undefined when any of that is not possible.
 */
export async function createDualStackNetwork(api: DockerApi): Promise<DualStackNetwork | undefined> {
  let previousDad: string;
  try {
    previousDad = readFileSync(ACCEPT_DAD, 'utf8').trim();
  } catch (error) {
    debug('docker.conformance', `read ${ACCEPT_DAD} (no dual-stack network)`, error);
    return undefined;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const third = randomInt(0, 256);
    const v6 = randomBytes(2).toString('hex');
    const name = `cordon-conformance-${OWNER_ID}-${randomBytes(3).toString('hex')}`;
    const gatewayIPv4 = `172.31.${third}.1`;
    const gatewayIPv6 = `fd00:c0d0:${v6}::1`;
    try {
      writeFileSync(ACCEPT_DAD, '0');
      const networkId = await api.createNetwork({
        Name: name,
        Driver: 'bridge',
        EnableIPv6: true,
        CheckDuplicate: true,
        Labels: {
          [LABELS.managedBy]: MANAGED_BY,
          [LABELS.owner]: OWNER_ID,
          [LABELS.backend]: BACKEND_NAME,
          [DOCKER_LABELS.ownerPid]: String(process.pid),
          [DOCKER_LABELS.ownerHost]: hostname(),
        },
        IPAM: {
          Driver: 'default',
          Config: [
            { Subnet: `172.31.${third}.0/24`, Gateway: gatewayIPv4 },
            { Subnet: `fd00:c0d0:${v6}::/64`, Gateway: gatewayIPv6 },
          ],
        },
      });
      return {
        name,
        gatewayIPv4,
        gatewayIPv6,
        close: async () => {
          await api.removeNetwork(networkId).catch(ignored('docker.conformance', () => `remove network ${networkId}`));
        },
      };
    } catch (error) {
      // Most likely the random subnet overlaps an existing network: try another.
      debug('docker.conformance', () => `create network ${name}`, error);
    } finally {
      try {
        writeFileSync(ACCEPT_DAD, previousDad);
      } catch (error) {
        // Restoring a sysctl we just wrote cannot fail short of losing root mid-run.
        debug('docker.conformance', `restore ${ACCEPT_DAD}`, error);
      }
    }
  }
  return undefined;
}
