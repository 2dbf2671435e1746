import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cgroupQuestion } from '../src/conformance.js';

// The adapter asks a pod whether its node runs cgroup v2, in whichever language the
// image has. Here each variant runs on this machine and must give the machine's answer.
const unified = existsSync('/sys/fs/cgroup/cgroup.controllers');
const run: Record<string, (code: string) => string> = {
  bash: (code) => execFileSync('bash', ['-c', code], { encoding: 'utf8' }),
  node: (code) => execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' }),
  python: (code) => execFileSync('python3', ['-c', code], { encoding: 'utf8' }),
};

describe('the cgroup question the k8s conformance adapter asks a pod', () => {
  it.each([
    [['bash', 'node', 'python'], 'bash'],
    [['node'], 'node'],
    [['python'], 'python'],
  ] as const)('with languages %j it asks in %s, and the answer is the machine’s', (languages, expected) => {
    const request = cgroupQuestion(languages);
    expect(request.language).toBe(expected);
    const stdout = run[expected]!(request.code).trim().split('\n');
    expect(stdout[0]).toMatch(/\S/);
    expect(stdout.includes('unified')).toBe(unified);
  });
});
