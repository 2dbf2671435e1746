import { InvalidRequestError } from '@cordon/core';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRuntimeImage } from '../src/image-build/build-runtime-image.js';
import { readDefinition } from '../src/image-build/definition.js';
import { ImageBuildUnavailableError } from '../src/image-build/errors.js';
import { checkOffline } from '../src/image-build/offline-build.js';

const scratch = mkdtempSync(join(tmpdir(), 'cordon-image-errors-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Runs `fn` with PATH holding only the named tools (symlinked from the real ones). */
function withTools<T>(tools: string[], fn: () => T): T {
  const bin = mkdtempSync(join(scratch, 'bin-'));
  for (const tool of tools) {
    const real = ['/usr/bin', '/bin', '/usr/local/bin', '/usr/sbin']
      .map((dir) => join(dir, tool))
      .find((path) => {
        try {
          return statSync(path).isFile();
        } catch {
          return false;
        }
      });
    if (real) symlinkSync(real, join(bin, tool));
  }
  const saved = process.env.PATH;
  process.env.PATH = bin;
  try {
    return fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe('buildRuntimeImage: refusals before anything is built', () => {
  it('names the field and value of a bad option', async () => {
    for (const [options, field] of [
      [{ mode: 'sideways' }, 'mode'],
      [{ base: 'Not A Ref' }, 'base'],
      [{ image: 'x:y:z' }, 'image'],
      [{ image: 'cordon-runtime@sha256:' + '0'.repeat(64) }, 'image'],
      [{ pullTimeoutMs: 5 }, 'pullTimeoutMs'],
    ] as const) {
      const error = await rejection(buildRuntimeImage(options as never));
      expect(error, field).toBeInstanceOf(InvalidRequestError);
      expect((error as InvalidRequestError).field).toBe(field);
    }
  });

  it('says when no Docker daemon answers, naming how to start one', async () => {
    const error = await rejection(
      buildRuntimeImage({ mode: 'registry', dockerHost: `unix://${join(scratch, 'no-daemon.sock')}` }),
    );
    expect(error).toBeInstanceOf(ImageBuildUnavailableError);
    expect(error).toMatchObject({ need: 'docker-daemon', code: 'BACKEND_UNAVAILABLE' });
    expect((error as ImageBuildUnavailableError).remedy).toMatch(/docker/i);
  });

  it('offline: names debootstrap (and what the offline path needs) when the rootfs must be made', () => {
    const cacheDir = mkdtempSync(join(scratch, 'cache-'));
    const definition = readDefinition();
    const error = withTools(['bash', 'flock', 'tar', 'sha256sum', 'npm'], () => {
      try {
        checkOffline({ definition, cacheDir });
      } catch (caught) {
        return caught;
      }
      return undefined;
    });
    if (process.getuid?.() === 0) {
      expect(error).toMatchObject({ need: 'debootstrap' });
      expect((error as ImageBuildUnavailableError).remedy).toContain('apt-get install -y debootstrap');
      expect((error as ImageBuildUnavailableError).remedy).toContain('Debian mirror');
    } else {
      expect(error).toMatchObject({ need: 'root' });
    }
    expect((error as ImageBuildUnavailableError).remedy).toContain('npx cordon image build');
  });

  it('offline: names a missing tool of the script', () => {
    const cacheDir = mkdtempSync(join(scratch, 'cache-'));
    const error = withTools(['bash', 'tar', 'sha256sum', 'npm'], () => {
      try {
        checkOffline({ definition: readDefinition(), cacheDir });
      } catch (caught) {
        return caught;
      }
      return undefined;
    });
    expect(error).toMatchObject({ need: 'offline-tools' });
    expect((error as Error).message).toContain('flock');
  });

  it('names CORDON_CACHE_DIR when the cache cannot be written', () => {
    const error = (() => {
      try {
        checkOffline({ definition: readDefinition(), cacheDir: '/dev/null/cache' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ need: 'cache-dir' });
    expect((error as ImageBuildUnavailableError).remedy).toContain('CORDON_CACHE_DIR');
  });
});
