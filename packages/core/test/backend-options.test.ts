import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidRequestError } from '../src/errors.js';
import { booleanOption, listOption, mapOption, parseBackendOptions } from '../src/backend/options.js';

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return (error as InvalidRequestError).field;
  }
  return undefined;
}

describe('backend option helpers', () => {
  const schema = z.strictObject({
    flag: booleanOption(true),
    names: listOption(z.string().min(1)).default([]),
    paths: listOption(z.string().startsWith('/'), { separators: [',', ':'] }).optional(),
    labels: mapOption(z.string()).default({}),
  });
  const parse = (options: Record<string, unknown>) => parseBackendOptions(schema, options);

  it('applies defaults', () => {
    expect(parse({})).toEqual({ flag: true, names: [], labels: {} });
  });

  it('reads booleans from code and from CLI/env strings', () => {
    expect(parse({ flag: false }).flag).toBe(false);
    for (const text of ['false', '0', 'no', 'off', ' OFF ']) expect(parse({ flag: text }).flag).toBe(false);
    for (const text of ['true', '1', 'yes', 'on']) expect(parse({ flag: text }).flag).toBe(true);
    expect(fieldOf(() => parse({ flag: 'maybe' }))).toBe('options.flag');
  });

  it('splits list strings on commas, trims and drops empty items; arrays pass through', () => {
    expect(parse({ names: ' a, b ,,c, ' }).names).toEqual(['a', 'b', 'c']);
    expect(parse({ names: '' }).names).toEqual([]);
    expect(parse({ names: ['a:b', 'c'] }).names).toEqual(['a:b', 'c']);
    expect(parse({ names: 'a:b' }).names).toEqual(['a:b']);
    expect(fieldOf(() => parse({ names: ['a', ''] }))).toBe('options.names.1');
    expect(fieldOf(() => parse({ names: 7 }))).toBe('options.names');
  });

  it('splits on every given separator', () => {
    expect(parse({ paths: '/a:/b, /c' }).paths).toEqual(['/a', '/b', '/c']);
    expect(fieldOf(() => parse({ paths: '/a:relative' }))).toBe('options.paths.1');
  });

  it('reads maps as a=b,c=d or as an object', () => {
    expect(parse({ labels: 'a=b, c = d=e,f' }).labels).toEqual({ a: 'b', c: 'd=e', f: '' });
    expect(parse({ labels: ' ' }).labels).toEqual({});
    expect(parse({ labels: { x: 'y' } }).labels).toEqual({ x: 'y' });
    expect(fieldOf(() => parse({ labels: '=b' }))).toBe('options.labels');
  });
});
