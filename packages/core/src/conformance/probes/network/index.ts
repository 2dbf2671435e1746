import type { NetworkProbe } from './probe.js';
import { NODE_NETWORK_PROBES } from './node.js';
import { PYTHON_NETWORK_PROBES } from './python.js';
import { SHELL_NETWORK_PROBES } from './shell.js';

const GROUP_ORDER = [
  'N1',
  'N2',
  'N3',
  'N4',
  'N5',
  'N6',
  'N7',
  'N8',
  'N9',
  'N10',
  'N11',
  'P1',
  'S1',
  'R1',
  'V6',
  'D1',
  'D2',
  'L1',
  'U1',
  'U2',
  'U3',
  'NL1',
  'E1',
  'PT1',
];

function groupRank(group: string): number {
  const rank = GROUP_ORDER.indexOf(group);
  return rank < 0 ? GROUP_ORDER.length : rank;
}

/** Every network probe, in report order. */
export const NETWORK_PROBES: readonly NetworkProbe[] = [
  ...NODE_NETWORK_PROBES,
  ...PYTHON_NETWORK_PROBES,
  ...SHELL_NETWORK_PROBES,
].sort((a, b) => groupRank(a.group) - groupRank(b.group));
