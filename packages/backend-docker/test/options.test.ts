import { readFileSync } from 'node:fs';
import { InvalidRequestError } from '@cordon/core';
import { describe, expect, it } from 'vitest';
import { resolveDockerOptions } from '../src/options.js';
import { RUNTIME_IMAGE_VERSION } from '../src/runtime-image.js';

describe('docker options', () => {
  it('applies defaults', () => {
    expect(resolveDockerOptions({})).toMatchObject({
      image: `cordon-runtime:${RUNTIME_IMAGE_VERSION}`,
      poolSize: 2,
      poolLanguages: ['node', 'python', 'bash'],
      openNetwork: 'bridge',
      sandboxUid: 'per-sandbox',
    });
  });

  it('takes a fixed non-root sandbox uid, the shared setup', () => {
    expect(resolveDockerOptions({ sandboxUid: '10001' })).toMatchObject({ sandboxUid: 10001 });
    expect(() => resolveDockerOptions({ sandboxUid: 0 })).toThrow(InvalidRequestError);
    expect(() => resolveDockerOptions({ sandboxUid: 'shared' })).toThrow(InvalidRequestError);
  });

  it('coerces strings from the CLI and CORDON_DOCKER_* variables', () => {
    expect(
      resolveDockerOptions({
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
        resolveDockerOptions(options);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidRequestError);
      expect((caught as InvalidRequestError).field).toBe(field);
    }
  });

  it('matches the image version pinned in images/runtime/versions.env', () => {
    const versions = readFileSync(new URL('../../../images/runtime/versions.env', import.meta.url), 'utf8');
    expect(versions).toContain(`CORDON_RUNTIME_VERSION=${RUNTIME_IMAGE_VERSION}\n`);
  });
});
