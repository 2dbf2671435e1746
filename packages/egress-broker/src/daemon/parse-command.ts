import { z } from 'zod';
import { DAEMON_WIRE_VERSION, SESSION_KEY, type DaemonCommand } from './wire.js';

const portRange = z.strictObject({ from: z.number().int(), to: z.number().int() });
const rule = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('name'), name: z.string(), ports: z.array(portRange), source: z.string() }),
  z.strictObject({ kind: z.literal('wildcard'), suffix: z.string(), ports: z.array(portRange), source: z.string() }),
  z.strictObject({ kind: z.literal('cidr'), cidr: z.string(), ports: z.array(portRange), source: z.string() }),
]);
const count = z.number().int().min(0);
const policy = z.union([
  z.strictObject({ mode: z.literal('none') }),
  z.strictObject({
    mode: z.literal('allow'),
    rules: z.array(rule),
    auditLimit: count,
    caps: z.strictObject({
      maxOpenConnections: count,
      maxConnections: count,
      maxBytes: count,
      maxConnectionMs: count,
      maxDnsQueries: count,
    }),
    resolve: z
      .array(
        z.tuple([
          z.string(),
          z.strictObject({
            address: z.string(),
            port: z.number().int().optional(),
            denySet: z.literal('apply').optional(),
          }),
        ]),
      )
      .optional(),
  }),
]);
const id = z.number().int().min(0).max(0xfffffffe);
const command = z.discriminatedUnion('op', [
  z.strictObject({
    v: z.literal(DAEMON_WIRE_VERSION),
    op: z.literal('open'),
    session: z.string().regex(SESSION_KEY),
    gid: id,
    policy,
  }),
  z.strictObject({ v: z.literal(DAEMON_WIRE_VERSION), op: z.literal('close'), session: z.string().regex(SESSION_KEY) }),
]);

/** A command line, checked; a string says what is wrong with it. */
export function parseCommand(line: string): DaemonCommand | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return `not JSON: ${line.slice(0, 80)}`;
  }
  const parsed = command.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `bad command: ${issue ? `${issue.path.join('.') || 'command'} ${issue.message}` : 'invalid'}`;
  }
  return parsed.data;
}
