// Where the forwarder listens inside the namespace: core's FORWARDER_PORTS (egress-forwarder.pl), shared with docker and k8s.
import { FORWARDER_PORTS } from '@cordon/core/backend';

/**
 * How a sandbox's network namespace is prepared for an allow-list, before its program
 * starts. The namespace keeps only `lo`; a local default route (IPv4 and IPv6) makes
 * every address answer on it, so a program's connect never fails in routing, and
 * netfilter sends every TCP connection to a non-loopback address to the forwarder, and
 * every DNS query to any resolver to the forwarder's resolver; anything else that is
 * not loopback (UDP, ICMP) is rejected at once. Run by the host (root) in the
 * namespace only (nsenter --net): the sandbox never holds CAP_NET_ADMIN.
 */

/** The tools the setup runs, found on the host (host.ts). */
export interface EgressTools {
  readonly nsenter: string;
  readonly ip: string;
  readonly iptablesRestore: string;
  readonly ip6tablesRestore: string;
  readonly setpriv: string;
}

/**
 * DNAT, not REDIRECT: REDIRECT of a locally made packet rewrites its destination to
 * loopback while its source stays the dialled (local-route) address, and the kernel
 * drops such a packet as martian. A documentation address on the local route has no
 * such problem, and SO_ORIGINAL_DST still names where the program was going.
 */
export const FORWARDER_ADDRESS = { ipv4: '192.0.2.1', ipv6: '2001:db8::c0d0' } as const;

function netfilterRules(loopback: string, forwarder: string): string {
  // DNAT's target writes an IPv6 address in brackets before its port.
  const target = forwarder.includes(':') ? `[${forwarder}]` : forwarder;
  return [
    '*nat',
    ':OUTPUT ACCEPT [0:0]',
    `-A OUTPUT -d ${loopback} -j RETURN`,
    `-A OUTPUT -p udp --dport 53 -j DNAT --to-destination ${target}:${FORWARDER_PORTS.dns}`,
    `-A OUTPUT -p tcp --dport 53 -j DNAT --to-destination ${target}:${FORWARDER_PORTS.dns}`,
    `-A OUTPUT -p tcp -j DNAT --to-destination ${target}:${FORWARDER_PORTS.captured}`,
    'COMMIT',
    '*filter',
    ':OUTPUT ACCEPT [0:0]',
    // The forwarder's answers on a DNAT'd connection (to the dialled address, before un-NAT).
    '-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    `-A OUTPUT -d ${loopback} -j ACCEPT`,
    // nat runs first: what was sent to the forwarder has its address by now; the rest is refused, fast.
    `-A OUTPUT -d ${forwarder} -p tcp -m multiport --dports ${FORWARDER_PORTS.dns},${FORWARDER_PORTS.captured} -j ACCEPT`,
    `-A OUTPUT -d ${forwarder} -p udp --dport ${FORWARDER_PORTS.dns} -j ACCEPT`,
    '-A OUTPUT -p tcp -j REJECT --reject-with tcp-reset',
    '-A OUTPUT -j REJECT',
    'COMMIT',
    '',
  ].join('\n');
}

/** The IPv4 and IPv6 rule sets, written to the restore tools' stdin. */
export const IPV4_RULES = netfilterRules('127.0.0.0/8', FORWARDER_ADDRESS.ipv4);
export const IPV6_RULES = netfilterRules('::1/128', FORWARDER_ADDRESS.ipv6);

/**
 * What a forwarder serves: `all` under an allow-list (routes, netfilter, every listener);
 * `dns` under network none (no route, no rule: only the resolver on the namespace's
 * loopback, so the names code tries to resolve are recorded while nothing can leave).
 */
export type ForwarderScope = 'all' | 'dns';

/**
 * The command the host runs: enter the namespace, route, filter (scope `all`), let an
 * unprivileged process bind port 53 there, then become the sandbox's uid and run the
 * forwarder. The rule sets arrive on fds 3 and 4 (pipes), so no file is written.
 */
export function forwarderCommand(params: {
  scope: ForwarderScope;
  tools: EgressTools;
  runnerPid: number;
  perl: string;
  forwarderSource: string;
  brokerSocket: string;
  marker: string;
  user: { uid: number; gid: number } | undefined;
}): { command: string; args: string[] } {
  const { tools, runnerPid, user } = params;
  const drop = user
    ? `exec ${tools.setpriv} --reuid=${user.uid} --regid=${user.gid} --clear-groups --no-new-privs --pdeathsig KILL -- `
    : 'exec ';
  const routed =
    params.scope === 'all'
      ? [
          `${tools.ip} route add local 0.0.0.0/0 dev lo`,
          `${tools.ip} -6 route add local ::/0 dev lo`,
          `${tools.iptablesRestore} -w 5 <&3`,
          `${tools.ip6tablesRestore} -w 5 <&4`,
        ]
      : [];
  const script = [
    'set -e',
    ...routed,
    'exec 3<&- 4<&-',
    'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start',
    `${drop}"$0" -e "$1" -- "$2" "$3" "$4"`,
  ].join('\n');
  return {
    command: tools.nsenter,
    args: [
      `--net=/proc/${runnerPid}/ns/net`,
      '--',
      '/bin/sh',
      '-c',
      script,
      params.perl,
      params.forwarderSource,
      params.brokerSocket,
      params.marker,
      params.scope,
    ],
  };
}
