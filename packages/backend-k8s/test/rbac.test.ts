import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rbacManifests, rbacYaml } from '../src/rbac.js';

describe('rbac', () => {
  it('deploy/rbac.yaml is what the generator makes for the defaults', () => {
    const committed = readFileSync(new URL('../deploy/rbac.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(rbacYaml());
  });

  it('grants only namespaced rights, and none on secrets, configmaps or exec', () => {
    const manifests = rbacManifests({ namespace: 'tenant-a', unrestrictedNamespace: 'ctl' });
    const kinds = manifests.map((manifest) => manifest.kind);
    expect(kinds).not.toContain('ClusterRole');
    expect(kinds).not.toContain('ClusterRoleBinding');
    const resources = manifests
      .flatMap((manifest) => ('rules' in manifest ? (manifest.rules ?? []) : []))
      .flatMap((rule) => rule.resources ?? []);
    expect(new Set(resources)).toEqual(new Set(['pods', 'pods/attach', 'pods/log', 'networkpolicies', 'events']));
    for (const manifest of manifests) {
      if ('rules' in manifest) for (const rule of manifest.rules ?? []) expect(rule.verbs).not.toContain('*');
    }
  });

  it('reads the deprecated controlNamespace as unrestrictedNamespace', () => {
    expect(rbacManifests({ controlNamespace: 'ctl' })).toEqual(rbacManifests({ unrestrictedNamespace: 'ctl' }));
  });
});
