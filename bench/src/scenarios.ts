import type { Language } from '@cordon/core';
import type { BaselineName, ScenarioName } from './results.js';

export interface Scenario {
  name: ScenarioName;
  language: Language;
  code: string;
  /** What a correct run prints; a sample with other output counts as a failure. */
  expectedStdout: string;
  /** The bare host command this scenario's ratio divides by. */
  hostBaseline: BaselineName;
}

/**
 * Small realistic work: build records, round-trip them through JSON, aggregate.
 * A fixed amount of work (not a time budget), so machines differ only in speed;
 * about 50 ms of JSON work on this project's 2-core machines.
 */
const NODE_JSON_CODE = `
const rows = Array.from({ length: 2000 }, (_, i) => ({
  id: i, name: 'item-' + i, tags: ['alpha', 'beta', 'gamma'].slice(i % 3),
  price: ((i * 37) % 1000) / 10, nested: { ok: i % 2 === 0, n: i },
}));
let total = 0;
for (let round = 0; round < 25; round++) {
  const parsed = JSON.parse(JSON.stringify(rows));
  total += parsed.reduce((sum, row) => sum + row.price * (row.nested.ok ? 1 : 2) + row.tags.length, 0);
}
console.log(JSON.stringify({ rows: rows.length, total: Math.round(total) }));
`.trim();

export const SCENARIO_LIST: readonly Scenario[] = [
  { name: 'node-hello', language: 'node', code: 'console.log(1)', expectedStdout: '1\n', hostBaseline: 'host-node' },
  { name: 'python-hello', language: 'python', code: 'print(1)', expectedStdout: '1\n', hostBaseline: 'host-python' },
  { name: 'bash-hello', language: 'bash', code: 'echo 1', expectedStdout: '1\n', hostBaseline: 'host-bash' },
  {
    name: 'node-json',
    language: 'node',
    code: NODE_JSON_CODE,
    expectedStdout: nodeJsonExpected(),
    hostBaseline: 'host-node',
  },
];

export function scenario(name: ScenarioName): Scenario {
  const found = SCENARIO_LIST.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`unknown scenario ${name}`);
  return found;
}

/** The node-json answer, computed here with the same arithmetic so a wrong run is caught. */
function nodeJsonExpected(): string {
  let total = 0;
  for (let round = 0; round < 25; round++) {
    let sum = 0;
    for (let i = 0; i < 2000; i++) sum = sum + (((i * 37) % 1000) / 10) * (i % 2 === 0 ? 1 : 2) + (3 - (i % 3));
    total += sum;
  }
  return `${JSON.stringify({ rows: 2000, total: Math.round(total) })}\n`;
}
