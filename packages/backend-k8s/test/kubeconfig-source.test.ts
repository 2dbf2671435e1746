import { describe, expect, it } from 'vitest';
import { findKubeconfig, SERVICE_ACCOUNT_TOKEN } from '../src/kubeconfig-source.js';
import { backend } from '../src/index.js';

const only =
  (...paths: string[]) =>
  (path: string) =>
    paths.includes(path);

describe('findKubeconfig', () => {
  it('takes the option first, then KUBECONFIG, then ~/.kube/config, then the pod', () => {
    expect(findKubeconfig({ kubeconfig: '/k', env: { KUBECONFIG: '/e' }, exists: only('/e') })).toEqual({
      kind: 'file',
      path: '/k',
    });
    expect(findKubeconfig({ env: { KUBECONFIG: '/a:/e' }, home: '/h', exists: only('/e') })).toEqual({
      kind: 'env',
      paths: ['/e'],
    });
    expect(findKubeconfig({ env: {}, home: '/h', exists: only('/h/.kube/config') })).toEqual({
      kind: 'home',
      path: '/h/.kube/config',
    });
    expect(
      findKubeconfig({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, home: '/h', exists: only(SERVICE_ACCOUNT_TOKEN) }),
    ).toEqual({ kind: 'in-cluster' });
  });

  it('says where it looked when there is nothing', () => {
    expect(findKubeconfig({ env: { KUBECONFIG: '/gone' }, home: '/h', exists: only() })).toEqual({
      kind: 'none',
      lookedAt: [
        'KUBECONFIG=/gone (no such file)',
        '/h/.kube/config (no such file)',
        "a pod's service account (not in a pod)",
      ],
    });
  });
});

describe('availability without a cluster configured', () => {
  it('says no kubeconfig was found and how to point at one, not what the client library says', async () => {
    const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };
    process.env.KUBECONFIG = '/nonexistent/kubeconfig';
    process.env.HOME = '/nonexistent-home';
    try {
      const found = await backend.availability({});
      expect(found.usable).toBe(false);
      expect(found.detail).toMatch(
        /no kubeconfig found \(looked at KUBECONFIG=\/nonexistent\/kubeconfig \(no such file\)/,
      );
      expect(found.detail).not.toMatch(/HTTP protocol|skipTLSVerify/);
      expect(found.remedy).toMatch(/KUBECONFIG=\/path\/to\/kubeconfig/);
    } finally {
      for (const [key, value] of Object.entries(saved))
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
    }
  });
});
