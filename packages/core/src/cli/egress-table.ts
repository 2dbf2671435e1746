import type { EgressAudit, EgressRecord } from '../egress/audit.js';
import { escapeForTerminal } from './terminal-text.js';

/** Rows `cordon run` shows after a run; the full audit is in `--json`. */
export const EGRESS_TABLE_MAX_ROWS = 20;

/** Cells past this many characters are cut (with `…`); the reason, last, is never cut. */
const MAX_CELL_CHARS = { path: 18, destination: 48, address: 39 } as const;

const HEADER = ['verdict', 'path', 'destination', 'address', 'up/down', 'ms', 'rule or reason'] as const;

/**
 * The egress audit as a short table for a person (standard error): one row per
 * attempt in the order they started, at most `maxRows`, then how many more and how
 * many the audit limit dropped. Every cell is made inert for a terminal: host names,
 * SNI and reasons may quote what the sandboxed program sent.
 */
export function formatEgressTable(audit: EgressAudit, options: { maxRows?: number } = {}): string {
  const maxRows = options.maxRows ?? EGRESS_TABLE_MAX_ROWS;
  const { records, dropped } = audit;
  const denied = records.filter((record) => record.verdict === 'denied').length;
  const lines = [
    `cordon: egress: ${records.length} attempt${records.length === 1 ? '' : 's'} recorded, ${records.length - denied} allowed, ${denied} denied`,
  ];
  const shown = records.slice(0, Math.max(0, maxRows)).map(row);
  if (shown.length > 0) {
    const table = [[...HEADER], ...shown];
    const widths = HEADER.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
    for (const cells of table) {
      const padded = cells.map((cell, column) => {
        if (column === cells.length - 1) return cell;
        // Numbers line up on the right, words on the left.
        return column === 5 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!);
      });
      lines.push(`  ${padded.join('  ')}`.trimEnd());
    }
  }
  if (records.length > shown.length)
    lines.push(`  ... and ${records.length - shown.length} more (all of them in --json)`);
  if (dropped > 0) lines.push(`  ${dropped} dropped (past the audit limit; raise it with --audit-limit)`);
  return `${lines.join('\n')}\n`;
}

function row(record: EgressRecord): string[] {
  // Allowed: the rule first (and a note such as an upstream error); denied: why first.
  const parts =
    record.verdict === 'allowed'
      ? [record.rule, record.reason]
      : [record.reason, record.rule === undefined ? undefined : `rule ${record.rule}`];
  const because = parts.filter((part) => part !== undefined && part !== '').join('; ');
  return [
    record.verdict,
    clip(inert(record.kind ? `${record.path} ${record.kind}` : record.path), MAX_CELL_CHARS.path),
    clip(inert(destination(record)), MAX_CELL_CHARS.destination),
    clip(inert(record.address ?? '-'), MAX_CELL_CHARS.address),
    `${formatBytes(record.bytesUp)}/${formatBytes(record.bytesDown)}`,
    String(Math.round(record.durationMs)),
    inert(because || '-'),
  ];
}

/** `host:port` (`[v6]:port`), the name asked for; the TLS server name too when it differs. */
function destination(record: EgressRecord): string {
  const host = record.host ?? record.sni ?? '-';
  const shown = record.port === undefined ? host : `${host.includes(':') ? `[${host}]` : host}:${record.port}`;
  return record.sni !== undefined && record.sni !== record.host ? `${shown} (sni ${record.sni})` : shown;
}

/** `512 B`, `1.5 KiB`, `3.0 MiB`, `1.2 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function clip(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

function inert(text: string): string {
  return escapeForTerminal(text);
}
