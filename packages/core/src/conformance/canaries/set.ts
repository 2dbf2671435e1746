import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CanaryNetwork } from '../adapter.js';
import type { CanaryEndpoints } from '../types.js';
import { CanaryLog } from './log.js';
import { DnsCanary } from './dns.js';
import { HostProcessCanary } from './host-process.js';
import { IcmpCanary } from './icmp.js';
import { StreamCanary } from './stream.js';
import { UdpCanary } from './udp.js';
import { OWNER_ID } from '../../backend/owner.js';
import { debug } from '../../backend/debug.js';

export const CANARY_DNS_ZONE = 'canary.cordon.test';

/**
 * Every canary for one suite run, started together and closed together. Each
 * records into one `CanaryLog`; probes are judged by searching it for their nonce.
 */
export class CanarySet implements AsyncDisposable {
  readonly log = new CanaryLog();
  readonly #closers: Array<() => Promise<void>> = [];
  #endpoints: CanaryEndpoints | undefined;
  /** Why the ICMP canary is not running, when it is not. */
  icmpUnavailable: string | undefined;
  tempDir = '';

  get endpoints(): CanaryEndpoints {
    if (!this.#endpoints) throw new Error('canaries are not started');
    return this.#endpoints;
  }

  /** The host process canary; its argv and env carry `secret`. */
  hostProcess: HostProcessCanary | undefined;

  static async start(
    network: CanaryNetwork,
    secret: { marker: string; name: string; value: string },
  ): Promise<CanarySet> {
    const set = new CanarySet();
    try {
      await set.#start(network, secret);
      return set;
    } catch (error) {
      await set.close();
      throw error;
    }
  }

  async #start(network: CanaryNetwork, secret: { marker: string; name: string; value: string }): Promise<void> {
    const log = this.log;
    const v6Reach = network.bindIPv6 === undefined ? undefined : (network.reachIPv6 ?? network.bindIPv6);
    const track = <T extends { close(): Promise<void> }>(canary: T): T => {
      this.#closers.push(() => canary.close());
      return canary;
    };

    const tcp = track(await StreamCanary.listen('tcp', log, { host: network.bindIPv4, port: 0 }));
    const udp = track(await UdpCanary.listen('udp', log, network.bindIPv4));
    const dns = track(await DnsCanary.listen('dns', log, network.bindIPv4, network.reachIPv4, network.dnsPort ?? 0));
    const loopback = track(await StreamCanary.listen('loopback', log, { host: '127.0.0.1', port: 0 }));
    const loopback6 = await optional(() => StreamCanary.listen('loopback6', log, { host: '::1', port: 0 }));
    if (loopback6) track(loopback6);

    let tcp6: StreamCanary | undefined;
    let udp6: UdpCanary | undefined;
    let dns6: DnsCanary | undefined;
    if (network.bindIPv6 !== undefined) {
      tcp6 = track(await StreamCanary.listen('tcp6', log, { host: network.bindIPv6, port: 0 }));
      udp6 = track(await UdpCanary.listen('udp6', log, network.bindIPv6));
      dns6 = track(await DnsCanary.listen('dns6', log, network.bindIPv6, network.reachIPv4, network.dnsPort ?? 0));
    }

    this.tempDir = await mkdtemp(join(tmpdir(), `cordon-canary-${OWNER_ID}-`));
    const unixPath = join(this.tempDir, 'canary.sock');
    track(await StreamCanary.listen('unix', log, { path: unixPath }));
    const abstractName = `cordon-canary-${OWNER_ID}-${randomBytes(4).toString('hex')}`;
    const abstract = await optional(() => StreamCanary.listen('abstract', log, { path: `\0${abstractName}` }));
    if (abstract) track(abstract);

    const hostProcess = track(await HostProcessCanary.start(secret.marker, secret.name, secret.value));
    this.hostProcess = hostProcess;

    const icmp = await IcmpCanary.start(log);
    if (icmp instanceof IcmpCanary) track(icmp);
    else this.icmpUnavailable = icmp.unavailable;

    this.#endpoints = {
      tcp: { host: network.reachIPv4, port: tcp.port },
      udp: { host: network.reachIPv4, port: udp.port },
      dns: { host: network.reachIPv4, port: dns.port },
      ...(v6Reach !== undefined && tcp6 && udp6 && dns6
        ? {
            tcp6: { host: v6Reach, port: tcp6.port },
            udp6: { host: v6Reach, port: udp6.port },
            dns6: { host: v6Reach, port: dns6.port },
          }
        : {}),
      loopbackTcp: { host: '127.0.0.1', port: loopback.port },
      ...(loopback6 ? { loopbackTcp6: { host: '::1', port: loopback6.port } } : {}),
      unixPath,
      abstractName: abstract ? abstractName : '',
      dnsZone: CANARY_DNS_ZONE,
      icmp: icmp instanceof IcmpCanary,
      hostPid: hostProcess.pid,
    };
  }

  async close(): Promise<void> {
    const closers = this.#closers.splice(0).reverse();
    await Promise.allSettled(closers.map((close) => close()));
    if (this.tempDir) await rm(this.tempDir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function optional<T>(start: () => Promise<T>): Promise<T | undefined> {
  try {
    return await start();
  } catch (error) {
    debug('conformance.canary', 'start an optional canary', error);
    return undefined;
  }
}
