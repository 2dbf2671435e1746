import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/errors.js';
import {
  collectResolve,
  collectRule,
  languageFor,
  networkFromFlags,
  runRequestFromFlags,
} from '../src/cli/run-request.js';

describe('cordon run: flags to request', () => {
  it('turns repeated --allow, --resolve and --audit-limit into one allow-list policy', () => {
    const allow = ['api.stripe.com', '*.googleapis.com', 'api.example.com:8443', '10.0.0.0/8:5432'].reduce<
      string[] | undefined
    >((previous, rule) => collectRule(rule, previous), undefined);
    const resolve = collectResolve('api.stripe.com=127.0.0.1:4000', collectResolve('db.example.com=10.1.2.3'));
    const request = runRequestFromFlags({
      file: 'pay.mjs',
      code: 'console.log(1)',
      flags: { allow, resolve, auditLimit: 50, env: { KEY: 'v' }, timeout: 5000 },
    });
    expect(request).toEqual({
      language: 'node',
      code: 'console.log(1)',
      env: { KEY: 'v' },
      timeoutMs: 5000,
      network: {
        mode: 'allow',
        allow: ['api.stripe.com', '*.googleapis.com', 'api.example.com:8443', '10.0.0.0/8:5432'],
        auditLimit: 50,
        resolve: { 'db.example.com': '10.1.2.3', 'api.stripe.com': '127.0.0.1:4000' },
      },
    });
  });

  it('leaves out what was not given, and accepts an explicit --network allow', () => {
    expect(networkFromFlags({ allow: ['api.stripe.com'] })).toEqual({ mode: 'allow', allow: ['api.stripe.com'] });
    expect(networkFromFlags({ allow: ['api.stripe.com'], network: 'allow' })).toEqual({
      mode: 'allow',
      allow: ['api.stripe.com'],
    });
  });

  it('keeps none as the default and passes --network open through', () => {
    expect(networkFromFlags({})).toBe('none');
    expect(networkFromFlags({ network: 'none' })).toBe('none');
    expect(networkFromFlags({ network: 'open' })).toBe('open');
    expect(runRequestFromFlags({ file: 'x.py', code: '', flags: {} })).toMatchObject({
      language: 'python',
      network: 'none',
    });
  });

  it('refuses --allow beside --network open or none, naming the flag and value', () => {
    for (const network of ['open', 'none'] as const) {
      const error = catchError(() => networkFromFlags({ allow: ['api.stripe.com'], network }));
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(error).toMatchObject({ field: '--network', value: network });
      expect((error as Error).message).toContain('cannot be combined with --allow');
    }
  });

  it('refuses --network allow without a rule, and --resolve or --audit-limit without --allow', () => {
    expect(catchError(() => networkFromFlags({ network: 'allow' }))).toMatchObject({
      field: '--network',
      value: 'allow',
    });
    expect(catchError(() => networkFromFlags({ allow: [], network: 'allow' }))).toBeInstanceOf(InvalidRequestError);
    expect(catchError(() => networkFromFlags({ resolve: { 'a.example.com': '127.0.0.1' } }))).toMatchObject({
      field: '--resolve',
    });
    expect(catchError(() => networkFromFlags({ network: 'open', auditLimit: 5 }))).toMatchObject({
      field: '--audit-limit',
      value: 5,
    });
  });

  it('refuses a --resolve that is not NAME=ADDR, or names a host twice', () => {
    expect(() => collectResolve('api.stripe.com')).toThrow(InvalidArgumentError);
    expect(() => collectResolve('=127.0.0.1')).toThrow(InvalidArgumentError);
    expect(() => collectResolve('api.stripe.com=')).toThrow(InvalidArgumentError);
    expect(() => collectResolve('api.stripe.com=127.0.0.2', { 'api.stripe.com': '127.0.0.1' })).toThrow(
      /names api\.stripe\.com twice/,
    );
    // IPv6 targets keep their brackets and port: core parses them.
    expect(collectResolve('v6.example.com=[::1]:8443')).toEqual({ 'v6.example.com': '[::1]:8443' });
  });

  it('takes the language from the flag, else the extension, else node', () => {
    expect(languageFor('a.sh', undefined)).toBe('bash');
    expect(languageFor('a.sh', 'python')).toBe('python');
    expect(languageFor('-', undefined)).toBe('node');
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
