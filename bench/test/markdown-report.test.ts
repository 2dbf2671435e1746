import { describe, expect, it } from 'vitest';
import { RESULTS_END, RESULTS_START, replaceResultsSection } from '../src/markdown-report.js';

describe('docs results section', () => {
  it('replaces only what lies between the markers, and can do so again', () => {
    const doc = `# Title\n\nintro\n\n${RESULTS_START}\nold table\n${RESULTS_END}\n\nafter\n`;
    const once = replaceResultsSection(doc, '| new | table |');
    expect(once).toBe(`# Title\n\nintro\n\n${RESULTS_START}\n| new | table |\n${RESULTS_END}\n\nafter\n`);
    expect(replaceResultsSection(once, 'again')).toContain(`${RESULTS_START}\nagain\n${RESULTS_END}`);
  });

  it('refuses a document without the markers rather than appending blindly', () => {
    expect(() => replaceResultsSection('# no markers\n', 'x')).toThrow(/markers/);
  });
});
