import { describe, expect, it } from 'vitest';
import { NETWORK_PROBES } from '../src/conformance/probes/network/index.js';
import { conformanceIds, describeConformance } from '../src/conformance/vitest.js';
import { unisolatedAdapter } from './support/unisolated-executor.js';

describe('conformanceIds', () => {
  it('lists every result id the suite can produce, filtered like `only`', () => {
    const all = conformanceIds();
    expect(all).toEqual(
      expect.arrayContaining([
        ...NETWORK_PROBES.map((probe) => probe.id),
        'env-secrets:node',
        'rootfs-readonly',
        'signal:SIGKILL',
        'no-state:node-globals',
        'leftovers',
      ]),
    );
    expect(new Set(all).size).toBe(all.length);
    expect(conformanceIds(['N2'])).toEqual(['N2:net.connect', 'N2:net.Socket', 'N2:tls.connect']);
    expect(conformanceIds(['exit-code'])).toEqual(['exit-code', 'signal:SIGKILL', 'signal:SIGTERM']);
  });
});

// The adapter end to end, on checks even the unisolated executor passes (the
// base executor gives them); a backend author calls it with no `only`.
describeConformance(
  'unisolated executor (checks the base class guarantees)',
  () => Promise.resolve(unisolatedAdapter()),
  {
    only: ['exit-code', 'output-cap', 'no-state:node-globals'],
  },
);
