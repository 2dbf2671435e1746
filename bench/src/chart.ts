import type { MeasuredBaseline, ResultsFile } from './results.js';

interface Bar {
  label: string;
  p50Ms: number;
  p95Ms: number;
  note: string;
  color: string;
}

const BASELINE_SHORT: Record<MeasuredBaseline, string> = {
  'host-node': 'bare node',
  'bwrap-node': 'node in bwrap',
  'perl-launcher-node': 'node in the perl launcher',
  'host-python': 'bare python',
  'host-bash': 'bare bash',
  'docker-run': 'docker run',
  'original-api': 'original API',
};

const COLORS: Record<string, string> = { baseline: '#9aa0a6', spawn: '#1a73e8', docker: '#0b8043', k8s: '#e37400' };

/** The run shared the machine with other work (see settings.busy*). */
export function busyRun(file: ResultsFile): boolean {
  return file.settings.busySamples > 0 || file.settings.busyBeforeStart > 0.25;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The README's chart: spaced `console.log(1)` latency, p50 bars (p95 as a thin
 * whisker) for the baselines and every backend and mode, with a line at bare node.
 */
export function renderChart(file: ResultsFile): string {
  const bars: Bar[] = [];
  for (const row of file.baselines) {
    if (row.scenario !== 'node-hello' || row.kind !== 'latency') continue;
    bars.push({ label: row.baseline, p50Ms: row.p50Ms, p95Ms: row.p95Ms, note: '', color: COLORS.baseline ?? '#999' });
  }
  for (const row of file.results) {
    if (row.scenario !== 'node-hello' || row.kind !== 'latency') continue;
    // The ratio its target is stated in: bare node, or `docker run` for cold containers and pods.
    bars.push({
      label: `${row.backend} ${row.mode === 'pooled' ? 'pooled' : 'cold'}`,
      p50Ms: row.p50Ms,
      p95Ms: row.p95Ms,
      note: row.ratio === null ? '' : ` (${row.ratio}× ${BASELINE_SHORT[row.baseline]})`,
      color: COLORS[row.backend] ?? '#5f6368',
    });
  }

  const width = 760;
  const left = 120;
  const right = 150;
  const top = 58;
  const rowHeight = 28;
  const plotWidth = width - left - right;
  const height = top + Math.max(1, bars.length) * rowHeight + 52;
  const maxMs = Math.max(1, ...bars.map((bar) => bar.p95Ms));
  const scale = (ms: number) => (ms / maxMs) * plotWidth;
  const { machine } = file;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="16" y="22" font-size="15" font-weight="600">console.log(1): p50 latency per execution (bar), p95 (whisker), lower is better</text>`,
  );
  out.push(
    `<text x="16" y="40" fill="#5f6368">${escapeXml(`${machine.cpus}× ${machine.cpuModel}, Node ${machine.node}, Docker ${machine.docker ?? 'none'}, ${machine.date.slice(0, 10)}${file.settings.quick ? ' — QUICK SMOKE PASS, not a measurement' : busyRun(file) ? ' — MACHINE WAS BUSY, ratios unreliable' : ''}`)}</text>`,
  );

  const hostNode = bars.find((bar) => bar.label === 'host-node');
  bars.forEach((bar, index) => {
    const y = top + index * rowHeight;
    const barWidth = Math.max(1, scale(bar.p50Ms));
    out.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${escapeXml(bar.label)}</text>`);
    out.push(
      `<rect x="${left}" y="${y + 5}" width="${barWidth.toFixed(1)}" height="${rowHeight - 10}" fill="${bar.color}" rx="2"/>`,
    );
    const whiskerX = left + scale(bar.p95Ms);
    out.push(
      `<line x1="${(left + barWidth).toFixed(1)}" x2="${whiskerX.toFixed(1)}" y1="${y + 14}" y2="${y + 14}" stroke="${bar.color}" stroke-width="1.5"/>`,
    );
    out.push(
      `<line x1="${whiskerX.toFixed(1)}" x2="${whiskerX.toFixed(1)}" y1="${y + 9}" y2="${y + 19}" stroke="${bar.color}" stroke-width="1.5"/>`,
    );
    out.push(
      `<text x="${(whiskerX + 6).toFixed(1)}" y="${y + 18}" fill="#202124">${escapeXml(`${Math.round(bar.p50Ms)} ms${bar.note}`)}</text>`,
    );
  });
  if (hostNode) {
    const x = left + scale(hostNode.p50Ms);
    const bottom = top + bars.length * rowHeight;
    out.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#d93025" stroke-dasharray="4 3"/>`,
    );
    out.push(
      `<text x="${x.toFixed(1)}" y="${bottom + 16}" text-anchor="middle" fill="#d93025">bare node ${Math.round(hostNode.p50Ms)} ms</text>`,
    );
  }
  out.push(
    `<text x="16" y="${height - 8}" fill="#5f6368">grey: baselines from the same run · ${file.settings.runs} runs each, interleaved · see docs/benchmarks.md</text>`,
  );
  if (bars.length === 0) out.push(`<text x="${left}" y="${top + 18}">no node-hello measurements in this run</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
