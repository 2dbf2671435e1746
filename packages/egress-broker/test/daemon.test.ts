import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { EgressAuditLog } from '@cordon/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerDaemon, BrokerDaemonClient, BrokerDaemonError } from '../src/index.js';
import { allowPolicy, collect, dnsQuery, HttpCanary, nameRule, openBroker } from './helpers.js';

const LISTED = 'api.listed.test';
const isRoot = process.getuid?.() === 0;

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cordon-daemon-test-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A daemon in this process, its channel two in-memory pipes. */
async function inProcessDaemon(): Promise<{ client: BrokerDaemonClient; commands: PassThrough; ran: Promise<void> }> {
  const commands = new PassThrough();
  const events = new PassThrough();
  const ran = new BrokerDaemon({ root, input: commands, output: events }).run();
  const client = await BrokerDaemonClient.attach({ input: commands, output: events });
  return { client, commands, ran };
}

async function proxiedGet(socket: string, port: number, path: string): Promise<string> {
  const connection = await openBroker(socket, { v: 1, kind: 'http-proxy' });
  connection.write(
    `GET http://${LISTED}:${port}${path} HTTP/1.1\r\nHost: ${LISTED}:${port}\r\nConnection: close\r\n\r\n`,
  );
  const { data } = await collect(connection, { untilText: `ok ${path}` });
  connection.destroy();
  return data.toString('latin1');
}

describe('broker daemon: many executions over one channel', () => {
  it('opens sessions, streams each record to its own execution, and closes them', async () => {
    await using canary = await HttpCanary.start();
    const { client, commands, ran } = await inProcessDaemon();
    const policy = allowPolicy({
      rules: [nameRule(LISTED)],
      resolve: { [LISTED]: { address: '127.0.0.1', port: canary.port } },
    });
    const audits = [new EgressAuditLog(100), new EgressAuditLog(100)];
    const sessions = await Promise.all(
      audits.map((audit, index) =>
        client.open({
          session: `exec-${index}`,
          gid: process.getgid?.() ?? 0,
          policy,
          audit,
        }),
      ),
    );
    expect(sessions[0]!.socket).toBe(join(root, 'exec-0', 'broker.sock'));
    expect(statSync(join(root, 'exec-0')).mode & 0o777).toBe(0o710);
    // The keys are the names in the root: passable, never listable.
    expect(statSync(root).mode & 0o777).toBe(0o711);

    expect(await proxiedGet(sessions[0]!.socket, 80, '/first')).toContain('ok /first');
    expect(await proxiedGet(sessions[1]!.socket, 80, '/second')).toContain('ok /second');
    const [denied] = await dnsQuery(sessions[1]!.socket, [{ name: 'evil.unlisted.test', type: 'A' }]);
    expect(denied?.rcode).toBe('NXDOMAIN');
    await Promise.all(sessions.map((session) => session.close()));

    // Every record is in, and only in, the audit of the session it happened in.
    const first = audits[0]!.snapshot().records;
    const second = audits[1]!.snapshot().records;
    expect(first).toEqual([expect.objectContaining({ path: 'proxy-http', host: LISTED, verdict: 'allowed' })]);
    expect(second).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'proxy-http', host: LISTED, verdict: 'allowed' }),
        expect.objectContaining({ path: 'dns', host: 'evil.unlisted.test', verdict: 'denied' }),
      ]),
    );
    expect(second).toHaveLength(2);
    expect(canary.requests.map((request) => request.url)).toEqual(['/first', '/second']);
    expect(existsSync(join(root, 'exec-0'))).toBe(false);

    await client.close();
    commands.end();
    await ran;
  });

  it.runIf(isRoot)("lets the sandbox's group alone pass the session's directory", async () => {
    const { client } = await inProcessDaemon();
    const session = await client.open({
      session: 'owned',
      gid: 10_235,
      policy: { mode: 'none' },
      audit: new EgressAuditLog(10),
    });
    const stat = statSync(join(root, 'owned'));
    expect({ uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o777 }).toEqual({ uid: 0, gid: 10_235, mode: 0o710 });
    // Another sandbox (another group) cannot reach the socket; one of the group can.

    const dial = (uid: number, gid: number) =>
      new Promise<string>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            '-e',
            `require('net').connect(${JSON.stringify(session.socket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`,
          ],
          { uid, gid, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.once('close', () => resolve(out.trim()));
      });
    expect(await dial(10_236, 10_236)).toBe('EACCES');
    expect(await dial(10_237, 10_235)).toBe('connected');
    await session.close();
    await client.close();
  });

  it('refuses a bad key, a second open of one session and a bad command, by name', async () => {
    const { client } = await inProcessDaemon();
    const params = { gid: 0, policy: { mode: 'none' } as const, audit: new EgressAuditLog(10) };
    await expect(client.open({ ...params, session: '../escape' })).rejects.toThrow(/"\.\.\/escape" is not a key/);
    const session = await client.open({ ...params, session: 'once' });
    await expect(client.open({ ...params, session: 'once' })).rejects.toThrow(BrokerDaemonError);
    await session.close();
    await client.close();

    // The daemon itself names what is wrong with a command it cannot take, and goes on.
    const commands = new PassThrough();
    const events = new PassThrough();
    const lines: string[] = [];
    events.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
    const ran = new BrokerDaemon({ root, input: commands, output: events }).run();
    commands.write('{"v":1,"op":"open","session":"x"}\n');
    commands.write('{"v":1,"op":"open","session":"../x","gid":0,"policy":{"mode":"none"}}\n');
    commands.write('not json\n');
    commands.write('{"v":1,"op":"close","session":"never"}\n');
    commands.end();
    await ran;
    expect(lines.map((line) => JSON.parse(line) as { ev: string; message?: string })).toEqual([
      { v: 1, ev: 'ready' },
      { v: 1, ev: 'error', message: expect.stringMatching(/^bad command: gid/) as unknown as string },
      { v: 1, ev: 'error', message: expect.stringMatching(/^bad command: session/) as unknown as string },
      { v: 1, ev: 'error', message: 'not JSON: not json' },
      { v: 1, ev: 'error', session: 'never', message: 'no session never' },
    ]);
  });

  it('runs as its one bundled file, alone in a directory; closes every session when its channel ends, then exits', async () => {
    const bundle = fileURLToPath(new URL('../dist/broker-daemon.cjs', import.meta.url));
    if (!existsSync(bundle)) throw new Error(`build first: ${bundle} is missing`);
    // As in a container: the one file, no node_modules anywhere above it.
    const alone = join(root, 'bin');
    mkdirSync(alone);
    copyFileSync(bundle, join(alone, 'broker-daemon.cjs'));
    const child = spawn(process.execPath, [join(alone, 'broker-daemon.cjs'), '--root', root], {
      cwd: alone,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const client = await BrokerDaemonClient.attach({ input: child.stdin, output: child.stdout });
    const audit = new EgressAuditLog(10);
    const session = await client.open({ session: 'ends', gid: 0, policy: { mode: 'none' }, audit });
    const [answer] = await dnsQuery(session.socket, [{ name: 'leak.example.test', type: 'TXT' }]);
    expect(answer?.rcode).toBe('NXDOMAIN');
    await client.close();
    expect(await exited).toBe(0);
    expect(existsSync(join(root, 'ends'))).toBe(false);
    expect(audit.snapshot().records).toEqual([
      expect.objectContaining({
        path: 'dns',
        host: 'leak.example.test',
        verdict: 'denied',
        reason: 'network mode is none',
      }),
    ]);
  });
});

describe('broker daemon: the TCP front (sandboxes that share no file system with it)', () => {
  /** A connection to the front that names `key`, then sends `rest`; what came back, and whether it was closed. */
  async function overTcp(port: number, lines: string): Promise<{ data: string; closed: boolean }> {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(lines);
    const { data, closed } = await collect(socket, { untilText: / ok \/[a-z-]+/, timeoutMs: 3_000 });
    socket.destroy();
    return { data: data.toString('latin1'), closed };
  }

  const proxyRequest = (path: string) =>
    `${JSON.stringify({ v: 1, kind: 'http-proxy' })}\nGET http://${LISTED}${path} HTTP/1.1\r\nHost: ${LISTED}\r\nConnection: close\r\n\r\n`;

  it('routes a connection to the session its first line names, and closes one that names none', async () => {
    await using canary = await HttpCanary.start();
    const commands = new PassThrough();
    const events = new PassThrough();
    const ran = new BrokerDaemon({ root, input: commands, output: events, tcp: { host: '127.0.0.1', port: 0 } }).run();
    const client = await BrokerDaemonClient.attach({ input: commands, output: events });
    const port = client.tcpPort!;
    expect(port).toBeGreaterThan(0);
    const policy = allowPolicy({
      rules: [nameRule(LISTED)],
      resolve: { [LISTED]: { address: '127.0.0.1', port: canary.port } },
    });
    const audits = [new EgressAuditLog(100), new EgressAuditLog(100)];
    const keys = ['a'.repeat(32), 'b'.repeat(32)];
    await Promise.all(keys.map((session, index) => client.open({ session, gid: 0, policy, audit: audits[index]! })));

    const first = await overTcp(port, `${JSON.stringify({ v: 1, session: keys[0] })}\n${proxyRequest('/first')}`);
    expect(first.data).toContain('ok /first');
    const second = await overTcp(port, `${JSON.stringify({ v: 1, session: keys[1] })}\n${proxyRequest('/second')}`);
    expect(second.data).toContain('ok /second');
    // Each session's audit holds its own request only.
    expect(audits.map((audit) => audit.snapshot().records.map((record) => `${record.verdict} ${record.host}`))).toEqual(
      [[`allowed ${LISTED}`], [`allowed ${LISTED}`]],
    );

    // A key no session has, a malformed line, a line past the bound: closed, nothing sent on, nothing recorded.
    for (const opening of [
      `${JSON.stringify({ v: 1, session: 'c'.repeat(32) })}\n`,
      'not json\n',
      `${JSON.stringify({ v: 1, session: 'a'.repeat(32), pad: 'x'.repeat(200) })}\n`,
      `${JSON.stringify({ v: 2, session: keys[0] })}\n`,
    ]) {
      const refused = await overTcp(port, `${opening}${proxyRequest('/refused')}`);
      expect(refused).toEqual({ data: '', closed: true });
    }
    expect(canary.requests.map((request) => request.url)).toEqual(['/first', '/second']);
    expect(audits.map((audit) => audit.snapshot().records.length)).toEqual([1, 1]);

    // A closed session's key no longer opens anything.
    await client
      .open({ session: 'd'.repeat(32), gid: 0, policy, audit: new EgressAuditLog(10) })
      .then((s) => s.close());
    expect(
      await overTcp(port, `${JSON.stringify({ v: 1, session: 'd'.repeat(32) })}\n${proxyRequest('/late')}`),
    ).toEqual({
      data: '',
      closed: true,
    });
    commands.end();
    await ran;
  });
});
