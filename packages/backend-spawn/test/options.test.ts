import { InvalidRequestError } from '@cordon/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  parseSpawnOptions,
  type ParsedSpawnOptions,
  type SpawnExecutorOptions,
  type SpawnOptions,
  type spawnOptionsSchema,
} from '../src/options.js';

describe('spawn options', () => {
  it('applies defaults', () => {
    expect(parseSpawnOptions({})).toEqual({
      isolation: 'auto',
      launcher: 'auto',
      allowAdvisoryIsolation: false,
      packageDirs: [],
      sandboxUid: 'per-sandbox',
      sandboxGid: 'per-sandbox',
      poolSize: 0,
    });
  });

  it('coerces strings from the CLI and CORDON_SPAWN_* variables', () => {
    expect(
      parseSpawnOptions({
        maxConcurrency: '2',
        allowAdvisoryIsolation: 'yes',
        packageDirs: '/opt/a, /opt/b:/opt/c',
        sandboxUid: '4242',
        poolSize: '3',
      }),
    ).toMatchObject({
      maxConcurrency: 2,
      allowAdvisoryIsolation: true,
      packageDirs: ['/opt/a', '/opt/b', '/opt/c'],
      sandboxUid: 4242,
      poolSize: 3,
    });
    expect(parseSpawnOptions({ packageDirs: ['/opt/a'] }).packageDirs).toEqual(['/opt/a']);
  });

  it('names the bad option', () => {
    for (const [options, field, value] of [
      [{ isolation: 'sideways' }, 'options.isolation', 'sideways'],
      [{ tier: 'sideways' }, 'options.tier', 'sideways'],
      // A list item that came as part of a string is named by index; its value is not looked up (yet).
      [{ packageDirs: 'relative/dir' }, 'options.packageDirs.0', undefined],
      [{ packageDirs: ['/ok', ''] }, 'options.packageDirs.1', ''],
      [{ allowAdvisoryIsolation: 'maybe' }, 'options.allowAdvisoryIsolation', 'maybe'],
      [{ sandboxUid: 0 }, 'options.sandboxUid', 0],
      [{ nodePath: 'node' }, 'options.nodePath', 'node'],
      [{ poolSize: 65 }, 'options.poolSize', 65],
      [{ bogus: 1 }, 'options.bogus', 1],
    ] as const) {
      let caught: unknown;
      try {
        parseSpawnOptions(options);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidRequestError);
      expect(caught).toMatchObject(value === undefined ? { field } : { field, value });
    }
  });

  it('reads the deprecated tier as isolation, and refuses the two disagreeing', () => {
    expect(parseSpawnOptions({ isolation: 'advisory' }).isolation).toBe('advisory');
    expect(parseSpawnOptions({ tier: 'kernel', isolation: 'kernel' })).not.toHaveProperty('tier');
    expect(() => parseSpawnOptions({ tier: 'kernel', isolation: 'advisory' })).toThrow(
      expect.objectContaining({ field: 'options.tier' }),
    );
  });

  it('keeps SpawnOptions and its schema in step (checked by pnpm typecheck)', () => {
    // Every option of the interface is a key of the schema, and the other way round.
    expectTypeOf<keyof SpawnOptions>().toEqualTypeOf<keyof z.input<typeof spawnOptionsSchema>>();
    // Parsed, the deprecated `tier` is folded into `isolation`.
    expectTypeOf<keyof ParsedSpawnOptions>().toEqualTypeOf<Exclude<keyof SpawnOptions, 'tier'>>();
    // What parsing returns is a valid input again, field by field.
    expectTypeOf<ParsedSpawnOptions>().toExtend<SpawnOptions>();
    expectTypeOf<SpawnExecutorOptions>().toEqualTypeOf<SpawnOptions>();
  });
});
