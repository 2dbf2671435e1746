import { describe, expect, it } from 'vitest';
import {
  foreignKindFor,
  foreignSupervisorCommand,
  languagesOfTools,
  parseToolsProbe,
  RUNNER_DIR,
  runnerBundleFrame,
  TOOLS_PROBE_MARKER,
} from '../src/backend/foreign-image.js';

describe('foreign images', () => {
  it('reads the tools probe strictly: marker line, absolute paths, nothing else', () => {
    const report = { node: '/usr/bin/node', python: '/usr/bin/python3.11', nodePath: '/usr/lib/node_modules' };
    expect(parseToolsProbe(`banner\n${TOOLS_PROBE_MARKER}${JSON.stringify(report)}\n`)).toEqual(report);
    expect(parseToolsProbe(JSON.stringify(report))).toBeUndefined();
    expect(parseToolsProbe(`${TOOLS_PROBE_MARKER}{"node":"node"}`)).toBeUndefined();
    expect(parseToolsProbe(`${TOOLS_PROBE_MARKER}{"node":"/n","extra":1}`)).toBeUndefined();
    expect(parseToolsProbe(`${TOOLS_PROBE_MARKER}not json`)).toBeUndefined();
  });

  it('offers the languages the image really has', () => {
    expect(languagesOfTools({ node: '/n' })).toEqual(['node']);
    expect(languagesOfTools({ python: '/p', bash: '/b' })).toEqual(['python', 'bash']);
    expect(languagesOfTools({ bash: '/b' })).toEqual([]);
    expect(foreignKindFor('bash', { python: '/p', bash: '/b' })).toBe('python');
    expect(foreignKindFor('bash', { node: '/n', python: '/p', bash: '/b' })).toBe('node');
  });

  it("starts node's supervisor when the image has node, python's when it has only python3", () => {
    const withNode = foreignSupervisorCommand({
      tools: { node: '/usr/bin/node', bash: '/bin/bash' },
      kind: 'node',
      programUid: 70001,
    });
    expect(withNode.slice(0, 3)).toEqual(['/usr/bin/node', '--v8-pool-size=1', '-e']);
    expect(withNode.slice(4)).toEqual([
      '--',
      '--kind',
      'node',
      '--uid',
      '70001',
      '--bash',
      '/bin/bash',
      '--node',
      '/usr/bin/node',
      '--node-path',
      '',
    ]);
    const pythonOnly = foreignSupervisorCommand({
      tools: { python: '/usr/bin/python3' },
      kind: 'python',
      programUid: 70002,
      nproc: 64,
    });
    expect(pythonOnly.slice(0, 5)).toEqual(['/usr/bin/python3', '-I', '-S', '-u', '-c']);
    expect(pythonOnly.slice(6)).toEqual([
      '--kind',
      'python',
      '--uid',
      '70002',
      '--nproc',
      '64',
      '--python',
      '/usr/bin/python3',
    ]);
    expect(() => foreignSupervisorCommand({ tools: { python: '/p' }, kind: 'node', programUid: 1 })).toThrow(
      /without node/,
    );
  });

  it('frames the runner files the bootstrap writes to the runner directory', async () => {
    const frame = await runnerBundleFrame();
    const files = JSON.parse(frame.subarray(4).toString('utf8')) as Record<string, string>;
    expect(frame.readUInt32BE(0)).toBe(frame.byteLength - 4);
    expect(Object.keys(files)).toEqual(
      expect.arrayContaining(['supervisor.cjs', 'child.cjs', 'child.py', 'collect.cjs']),
    );
    expect(RUNNER_DIR).toBe('/opt/cordon/runner');
  });
});
