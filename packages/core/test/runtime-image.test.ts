import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RUNTIME_IMAGE,
  RUNTIME_IMAGE_VERSION,
  runnerKindFor,
  supervisorCommand,
} from '../src/backend/index.js';

describe('the runtime image facts', () => {
  it('name the version pinned in images/runtime/versions.env', () => {
    const versions = readFileSync(new URL('../../../images/runtime/versions.env', import.meta.url), 'utf8');
    const pinned = /^CORDON_RUNTIME_VERSION=(.+)$/m.exec(versions)?.[1];
    expect(RUNTIME_IMAGE_VERSION).toBe(pinned);
    expect(DEFAULT_RUNTIME_IMAGE).toBe(`cordon-runtime:${pinned}`);
  });

  it('serve bash from the node child and python from its own', () => {
    expect(['node', 'bash', 'python'].map((language) => runnerKindFor(language as 'node'))).toEqual([
      'node',
      'node',
      'python',
    ]);
  });

  it("start the image's supervisor, with RLIMIT_NPROC only when asked", () => {
    expect(supervisorCommand({ kind: 'python', programUid: 1600000123 })).toEqual([
      'node',
      '--v8-pool-size=1',
      '/opt/cordon/runner/supervisor.cjs',
      '--kind',
      'python',
      '--uid',
      '1600000123',
    ]);
    expect(supervisorCommand({ kind: 'node', programUid: 5, nproc: 64.7 }).slice(-2)).toEqual(['--nproc', '64']);
  });
});
