import { readFileSync } from 'node:fs';
import { InvalidRequestError } from '@cordon/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  type DockerBackendOptions,
  type DockerOptions,
  type dockerOptionsSchema,
  parseDockerOptions,
  resolveDockerOptions,
  type ParsedDockerOptions,
  type ResolvedDockerOptions,
} from '../src/options.js';
import { RUNTIME_IMAGE_VERSION } from '../src/runtime-image.js';

describe('docker options', () => {
  it('applies defaults', () => {
    expect(parseDockerOptions({})).toMatchObject({
      image: `cordon-runtime:${RUNTIME_IMAGE_VERSION}`,
      poolSize: 2,
      poolLanguages: ['node', 'python', 'bash'],
      openNetwork: 'bridge',
      sandboxUid: 'per-sandbox',
    });
  });

  it('takes a fixed non-root sandbox uid, the shared setup', () => {
    expect(parseDockerOptions({ sandboxUid: '10001' })).toMatchObject({ sandboxUid: 10001 });
    expect(() => parseDockerOptions({ sandboxUid: 0 })).toThrow(InvalidRequestError);
    expect(() => parseDockerOptions({ sandboxUid: 'shared' })).toThrow(InvalidRequestError);
  });

  it('coerces strings from the CLI and CORDON_DOCKER_* variables', () => {
    expect(
      parseDockerOptions({
        poolSize: '5',
        poolLanguages: 'python, bash',
        apiTimeoutMs: '2000',
        runtime: 'runsc',
        dns: '172.17.0.1,fd00::1',
      }),
    ).toMatchObject({
      poolSize: 5,
      poolLanguages: ['python', 'bash'],
      apiTimeoutMs: 2000,
      runtime: 'runsc',
      dns: ['172.17.0.1', 'fd00::1'],
    });
  });

  it('names the bad option', () => {
    for (const [options, field] of [
      [{ poolSize: 'many' }, 'options.poolSize'],
      [{ poolLanguages: 'node,ruby' }, 'options.poolLanguages.1'],
      [{ colour: 'red' }, 'options.colour'],
      [{ dockerHost: '/var/run/docker.sock' }, 'options.dockerHost'],
      [{ dns: '8.8.8.8,example.com' }, 'options.dns.1'],
    ] as const) {
      let caught: unknown;
      try {
        parseDockerOptions(options);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidRequestError);
      expect((caught as InvalidRequestError).field).toBe(field);
    }
  });

  it('keeps DockerOptions and its schema in step (checked by pnpm typecheck)', () => {
    // Every option of the interface is a key of the schema, and the other way round.
    expectTypeOf<keyof DockerOptions>().toEqualTypeOf<keyof z.input<typeof dockerOptionsSchema>>();
    expectTypeOf<keyof ParsedDockerOptions>().toEqualTypeOf<keyof DockerOptions>();
    // What parsing returns is a valid input again, field by field.
    expectTypeOf<ParsedDockerOptions>().toExtend<DockerOptions>();
  });

  it('keeps the deprecated names for one release', () => {
    expect(resolveDockerOptions).toBe(parseDockerOptions);
    expectTypeOf<DockerBackendOptions>().toEqualTypeOf<DockerOptions>();
    expectTypeOf<ResolvedDockerOptions>().toEqualTypeOf<ParsedDockerOptions>();
  });

  it('matches the image version pinned in images/runtime/versions.env', () => {
    const versions = readFileSync(new URL('../../../images/runtime/versions.env', import.meta.url), 'utf8');
    expect(versions).toContain(`CORDON_RUNTIME_VERSION=${RUNTIME_IMAGE_VERSION}\n`);
  });
});
