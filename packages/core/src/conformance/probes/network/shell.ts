import type { CanaryEndpoints } from '../../types.js';
import { needsSystemResolver } from './node.js';
import { needsHostLoopback, needsIPv6, type NetworkProbe } from './probe.js';
import { bashProbe } from '../prelude.js';

const bash = (tools: readonly string[], body: string) => ({
  requiresTools: tools,
  code: (endpoints: CanaryEndpoints, nonce: string) => bashProbe(endpoints, nonce, tools, body),
});

/** Shell tools and bash itself: non-Node programs no in-process patch can touch. */
export const SHELL_NETWORK_PROBES: readonly NetworkProbe[] = [
  {
    id: 'S1:curl',
    group: 'S1',
    title: 'curl to the HTTP canary',
    language: 'bash',
    ...bash(['curl'], `step curl curl -sS --max-time 4 -o /dev/null "http://$TCP_HOST:$TCP_PORT/$NONCE"`),
  },
  {
    id: 'S1:wget',
    group: 'S1',
    title: 'wget to the HTTP canary',
    language: 'bash',
    ...bash(['wget'], `step wget wget -q -T 4 -t 1 -O /dev/null "http://$TCP_HOST:$TCP_PORT/$NONCE"`),
  },
  {
    id: 'S1:nc-tcp',
    group: 'S1',
    title: 'nc raw TCP',
    language: 'bash',
    ...bash(
      ['nc'],
      `step 'nc tcp' sh -c "printf 'nc %s' '$NONCE' | nc -w 4 -N '$TCP_HOST' '$TCP_PORT' || printf 'nc %s' '$NONCE' | nc -w 4 -q 1 '$TCP_HOST' '$TCP_PORT'"`,
    ),
  },
  {
    id: 'S1:nc-udp',
    group: 'S1',
    title: 'nc -u UDP datagram',
    language: 'bash',
    ...bash(['nc'], `step 'nc udp' sh -c "printf 'nc-udp %s' '$NONCE' | nc -u -w 1 '$UDP_HOST' '$UDP_PORT'"`),
  },
  {
    id: 'S1:dev-tcp',
    group: 'S1',
    title: 'bash /dev/tcp redirection',
    language: 'bash',
    ...bash(
      [],
      `step '/dev/tcp' bash -c "exec 3<>/dev/tcp/$TCP_HOST/$TCP_PORT && printf 'dev-tcp %s' '$NONCE' >&3 && exec 3>&-"`,
    ),
  },
  {
    id: 'S1:dev-udp',
    group: 'S1',
    title: 'bash /dev/udp redirection',
    language: 'bash',
    ...bash(
      [],
      `step '/dev/udp' bash -c "exec 3<>/dev/udp/$UDP_HOST/$UDP_PORT && printf 'dev-udp %s' '$NONCE' >&3 && exec 3>&-"`,
    ),
  },
  {
    id: 'V6:curl',
    group: 'V6',
    title: 'curl to the IPv6 HTTP canary',
    language: 'bash',
    notApplicable: needsIPv6,
    ...bash(['curl'], `step 'curl -6' curl -sS -g --max-time 4 -o /dev/null "http://[$TCP6_HOST]:$TCP6_PORT/$NONCE"`),
  },
  {
    id: 'L1:dev-tcp',
    group: 'L1',
    title: "bash /dev/tcp to the host's 127.0.0.1",
    language: 'bash',
    notApplicable: needsHostLoopback,
    runWhenNotApplicable: true,
    ...bash(
      [],
      `step '/dev/tcp 127.0.0.1' bash -c "exec 3<>/dev/tcp/$LO_HOST/$LO_PORT && printf 'loopback-dev-tcp %s' '$NONCE' >&3 && exec 3>&-"`,
    ),
  },
  {
    id: 'D2:getent',
    group: 'D2',
    title: 'getent hosts (system resolver) of <nonce>.<zone>',
    language: 'bash',
    notApplicable: needsSystemResolver,
    runWhenNotApplicable: true,
    ...bash(['getent'], `step 'getent hosts' getent ahostsv4 "$NONCE.$ZONE"`),
  },
  {
    id: 'R1:ping',
    group: 'R1',
    title: 'ping with the nonce as payload pattern',
    language: 'bash',
    notApplicable: (context) => context.icmpUnavailable,
    ...bash(
      ['ping', 'od'],
      `PATTERN=$(printf '%s' "$NONCE" | od -An -tx1 | tr -d ' \\n')
err=$(ping -n -c 1 -W 2 -p "$PATTERN" "$TCP_HOST" 2>&1 >/dev/null); rc=$?
# Without CAP_NET_RAW and outside ping_group_range, ping cannot even open its socket: the vector does not exist here.
[ $rc -ne 0 ] && [[ "$err" == *"socket: Operation not permitted"* || "$err" == *"socket: Permission denied"* ]] && echo 'CORDON-UNSUPPORTED ping cannot open an ICMP socket here (no CAP_NET_RAW, gid outside net.ipv4.ping_group_range)'
if [ $rc -eq 0 ]; then emit ping true "" ""; else emit ping false "exit $rc" "$(printf '%s' "$err" | tr -d '"\\\\' | tr '\\n' ' ' | cut -c1-200)"; fi`,
    ),
  },
  {
    id: 'U1:nc',
    group: 'U1',
    title: 'nc -U to a host Unix socket path',
    language: 'bash',
    controlOn: 'host',
    ...bash(
      ['nc'],
      `step 'nc -U' sh -c "printf 'unix-nc %s' '$NONCE' | nc -N -U '$UNIX_PATH' || printf 'unix-nc %s' '$NONCE' | nc -q 1 -U '$UNIX_PATH'"`,
    ),
  },
];
