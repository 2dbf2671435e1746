import { describe, expect, it } from 'vitest';
import { EGRESS_TABLE_MAX_ROWS, formatBytes, formatEgressTable } from '../src/cli/egress-table.js';
import type { EgressRecord } from '../src/egress/audit.js';

const base = { at: '2026-12-03T10:00:00.000Z', bytesUp: 0, bytesDown: 0, durationMs: 0 } as const;

const dnsAllowed: EgressRecord = {
  ...base,
  path: 'dns',
  kind: 'A',
  host: 'api.stripe.com',
  address: '198.18.0.1',
  verdict: 'allowed',
  rule: 'api.stripe.com',
  durationMs: 0.4,
};
const httpAllowed: EgressRecord = {
  ...base,
  path: 'proxy-http',
  kind: 'GET',
  host: 'api.stripe.com',
  port: 80,
  address: '127.0.0.1',
  verdict: 'allowed',
  rule: 'api.stripe.com',
  bytesUp: 312,
  bytesDown: 1536,
  durationMs: 12.6,
};
const denied: EgressRecord = {
  ...base,
  path: 'captured',
  host: 'evil.example',
  port: 443,
  sni: 'evil.example',
  verdict: 'denied',
  reason: 'evil.example is not on the allow-list',
  durationMs: 1,
};

describe('the egress table cordon run prints', () => {
  it('shows verdict, path, destination, address, bytes, ms and the rule or reason of each attempt', () => {
    const lines = formatEgressTable({ records: [dnsAllowed, httpAllowed, denied], dropped: 0 }).split('\n');
    expect(lines[0]).toBe('cordon: egress: 3 attempts recorded, 2 allowed, 1 denied');
    expect(lines[1]).toMatch(/^ {2}verdict +path +destination +address +up\/down +ms +rule or reason$/);
    expect(lines[2]).toMatch(/^ {2}allowed +dns A +api\.stripe\.com +198\.18\.0\.1 +0 B\/0 B +0 +api\.stripe\.com$/);
    expect(lines[3]).toMatch(
      /^ {2}allowed +proxy-http GET +api\.stripe\.com:80 +127\.0\.0\.1 +312 B\/1\.5 KiB +13 +api\.stripe\.com$/,
    );
    // The SNI is shown only when it differs from the host asked for.
    expect(lines[4]).toMatch(
      /^ {2}denied +captured +evil\.example:443 +- +0 B\/0 B +1 +evil\.example is not on the allow-list$/,
    );
    expect(lines).toHaveLength(6);
    expect(lines[5]).toBe('');
    // Columns line up: every row's address starts where the header's does.
    const column = lines[1]!.indexOf('address');
    for (const line of lines.slice(2, 5)) expect(line[column - 1]).toBe(' ');
    expect(lines[2]!.slice(column)).toMatch(/^198\.18\.0\.1/);
    expect(lines[3]!.slice(column)).toMatch(/^127\.0\.0\.1/);
  });

  it('names a TLS server name that disagrees with the host, and brackets an IPv6 host', () => {
    const fronted: EgressRecord = {
      ...denied,
      path: 'proxy-connect',
      host: 'api.stripe.com',
      sni: 'evil.example',
      reason: 'SNI evil.example does not match api.stripe.com',
      rule: 'api.stripe.com',
    };
    const v6: EgressRecord = { ...httpAllowed, host: '2001:db8::1', address: '2001:db8::1', rule: '2001:db8::/32' };
    const text = formatEgressTable({ records: [fronted, v6], dropped: 0 });
    expect(text).toContain('api.stripe.com:443 (sni evil.example)');
    expect(text).toContain('SNI evil.example does not match api.stripe.com; rule api.stripe.com');
    expect(text).toContain('[2001:db8::1]:80');
  });

  it(`shows at most ${EGRESS_TABLE_MAX_ROWS} rows, then how many more, and the dropped count`, () => {
    const records = Array.from({ length: 25 }, (_, index) => ({ ...httpAllowed, host: `h${index}.example.com` }));
    const lines = formatEgressTable({ records, dropped: 7 }).trimEnd().split('\n');
    expect(lines.filter((line) => line.includes('.example.com:80'))).toHaveLength(EGRESS_TABLE_MAX_ROWS);
    expect(lines.at(-2)).toBe('  ... and 5 more (all of them in --json)');
    expect(lines.at(-1)).toBe('  7 dropped (past the audit limit; raise it with --audit-limit)');
    expect(formatEgressTable({ records, dropped: 0 }, { maxRows: 3 })).toContain('... and 22 more');
    expect(formatEgressTable({ records: records.slice(0, 2), dropped: 0 })).not.toMatch(/more|dropped/);
  });

  it('says so when nothing was attempted, and still reports dropped records', () => {
    expect(formatEgressTable({ records: [], dropped: 0 })).toBe(
      'cordon: egress: 0 attempts recorded, 0 allowed, 0 denied\n',
    );
    expect(formatEgressTable({ records: [], dropped: 3 })).toContain('3 dropped');
  });

  it('makes names and reasons the sandboxed program chose inert on a terminal', () => {
    const hostile: EgressRecord = {
      ...denied,
      host: 'x\x1b]52;c;ZXZpbA==\x07.example',
      reason: 'Host \u202eevil does not match',
    };
    const text = formatEgressTable({ records: [hostile], dropped: 0 });
    expect(text).not.toMatch(/[\x1b\x07\u202e]/u);
    expect(text).toContain('\\x1b]52');
    expect(text).toContain('\\u202e');
  });

  it('cuts long cells but never the reason', () => {
    const long: EgressRecord = { ...denied, host: `${'a'.repeat(60)}.example.com`, reason: `r${'x'.repeat(150)}` };
    const text = formatEgressTable({ records: [long], dropped: 0 });
    expect(text).toContain('…');
    expect(text).toContain(`r${'x'.repeat(150)}`);
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal past a KiB', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(256 * 1024 * 1024)).toBe('256.0 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});
