import { readFileSync } from 'node:fs';
import { InvalidRequestError } from '@cordon/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  type K8sOptions,
  type K8sOptionsInput,
  type k8sOptionsSchema,
  parseK8sOptions,
  type ParsedK8sOptions,
} from '../src/options.js';

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
      unrestrictedNamespace: 'cordon-control',
      createNamespaces: true,
      verifyIsolation: true,
      image: 'cordon-runtime:0.3.0',
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
    expect(() => parseK8sOptions({ namespace: 'same', unrestrictedNamespace: 'same' })).toThrow(
      /options\.unrestrictedNamespace/,
    );
    expect(() => parseK8sOptions({ namespace: 'same', controlNamespace: 'same' })).toThrow(
      /options\.unrestrictedNamespace/,
    );
  });

  it('reads the deprecated controlNamespace as unrestrictedNamespace, and refuses the two disagreeing', () => {
    expect(parseK8sOptions({ controlNamespace: 'open-ns' }).unrestrictedNamespace).toBe('open-ns');
    expect(parseK8sOptions({ controlNamespace: 'open-ns' })).not.toHaveProperty('controlNamespace');
    expect(() => parseK8sOptions({ controlNamespace: 'a', unrestrictedNamespace: 'b' })).toThrow(
      /options\.controlNamespace/,
    );
  });

  it('reads lists and maps from CLI and environment strings', () => {
    expect(
      parseK8sOptions({
        imagePullSecrets: 'a, b,,',
        nodeSelector: 'pool=sandbox, zone = x',
        tolerations: '[{"key":"k","operator":"Exists"}]',
        dns: '10.0.0.10',
      }),
    ).toMatchObject({
      imagePullSecrets: ['a', 'b'],
      nodeSelector: { pool: 'sandbox', zone: 'x' },
      tolerations: [{ key: 'k', operator: 'Exists' }],
      dns: ['10.0.0.10'],
    });
  });

  it('keeps K8sOptions and its schema in step (checked by pnpm typecheck)', () => {
    // Every option of the interface is a key of the schema, and the other way round.
    expectTypeOf<keyof K8sOptions>().toEqualTypeOf<keyof z.input<typeof k8sOptionsSchema>>();
    // Parsed, the deprecated `controlNamespace` is folded into `unrestrictedNamespace`.
    expectTypeOf<keyof ParsedK8sOptions>().toEqualTypeOf<Exclude<keyof K8sOptions, 'controlNamespace'>>();
    // What parsing returns is a valid input again, field by field.
    expectTypeOf<ParsedK8sOptions>().toExtend<K8sOptions>();
    expectTypeOf<K8sOptionsInput>().toEqualTypeOf<z.input<typeof k8sOptionsSchema>>();
  });
});
