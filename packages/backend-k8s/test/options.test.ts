import { readFileSync } from 'node:fs';
import { InvalidRequestError } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import { parseK8sOptions } from '../src/options.js';

describe('parseK8sOptions', () => {
  it('defaults to the image version pinned in images/runtime/versions.env (the one the docker backend builds)', () => {
    const versions = readFileSync(new URL('../../../images/runtime/versions.env', import.meta.url), 'utf8');
    const pinned = /^CORDON_RUNTIME_VERSION=(.+)$/m.exec(versions)?.[1];
    expect(parseK8sOptions({}).image).toBe(`cordon-runtime:${pinned}`);
  });

  it('applies defaults', () => {
    const options = parseK8sOptions({});
    expect(options).toMatchObject({
      namespace: 'cordon-sandbox',
      controlNamespace: 'cordon-control',
      createNamespaces: true,
      verifyIsolation: true,
      image: 'cordon-runtime:0.2.0',
      imagePullPolicy: 'Never',
      poolSize: 2,
      runAsUser: 'per-pod',
    });
  });

  it('coerces strings from the CLI and environment', () => {
    const options = parseK8sOptions({
      poolSize: '0',
      createNamespaces: 'false',
      verifyIsolation: 'no',
      apiTimeoutMs: '2500',
      cpuRequestFraction: '0.5',
    });
    expect(options).toMatchObject({
      poolSize: 0,
      createNamespaces: false,
      verifyIsolation: false,
      apiTimeoutMs: 2500,
      cpuRequestFraction: 0.5,
    });
  });

  it('names the bad option', () => {
    expect(() => parseK8sOptions({ namespace: 'Not_A_Label' })).toThrow(InvalidRequestError);
    expect(() => parseK8sOptions({ namespace: 'Not_A_Label' })).toThrow(/options\.namespace/);
    expect(() => parseK8sOptions({ imagePullPolicy: 'Sometimes' })).toThrow(/options\.imagePullPolicy/);
    expect(() => parseK8sOptions({ runAsUser: '0' })).toThrow(/options\.runAsUser/);
    expect(() => parseK8sOptions({ tolerations: 'not json' })).toThrow(/options\.tolerations/);
    expect(() => parseK8sOptions({ bogus: 1 })).toThrow(/options\.bogus/);
    expect(() => parseK8sOptions({ namespace: 'same', controlNamespace: 'same' })).toThrow(/options\.controlNamespace/);
  });
});
