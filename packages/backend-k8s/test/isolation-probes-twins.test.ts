import { connect, createServer, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { INTERPRETERS, type Interpreter } from '../src/interpreter.js';
import { canarySource, senderSource } from '../src/isolation-probes.js';
import { freeTcpPort, freeUdpPort, killAll, localCommand, start, waitFor, type Running } from './support/twins.js';

// Every canary and sender, node original and python twin, against each other on
// 127.0.0.1 only: the canary binds loopback here, the senders send nowhere else.
const HOST = '127.0.0.1';
const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  await killAll();
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) {
    await new Promise((resolve) => server.close(resolve));
  }
});

async function ports(): Promise<{ tcpPort: number; udpPort: number }> {
  return { tcpPort: await freeTcpPort(), udpPort: await freeUdpPort() };
}

async function startCanary(interpreter: Interpreter, at: { tcpPort: number; udpPort: number }): Promise<Running> {
  const canary = start(localCommand(interpreter, canarySource(interpreter, { ...at, bindHost: HOST })));
  // Ready once it accepts TCP (the UDP socket is bound by then, or a moment later: the
  // senders' datagrams go out over 800 ms).
  await waitFor(
    `the ${interpreter} canary on ${at.tcpPort}`,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host: HOST, port: at.tcpPort });
        socket.on('connect', () => (socket.destroy(), resolve(true)));
        socket.on('error', () => resolve(false));
      }),
  );
  return canary;
}

function runSender(
  interpreter: Interpreter,
  spec: { nonce: string; untilAnswered: boolean; tcpPort: number; udpPort: number },
): Running {
  return start(localCommand(interpreter, senderSource(interpreter, { host: HOST, ...spec })));
}

const pairs = INTERPRETERS.flatMap((canary) => INTERPRETERS.map((sender) => [canary, sender] as const));

describe.each(pairs)('isolation check programs: %s canary, %s sender', (canaryLanguage, senderLanguage) => {
  it('reached: the canary logs the nonce over TCP and UDP and the sender prints reached, 1.2 s after the answer', async () => {
    const at = await ports();
    const canary = await startCanary(canaryLanguage, at);
    const nonce = `cordon-probe-${canaryLanguage}-${senderLanguage}`;
    const sender = await runSender(senderLanguage, { nonce, untilAnswered: false, ...at }).finished;
    expect(sender).toMatchObject({ exitCode: 0, stdout: 'reached\n', stderr: '' });
    expect(sender.elapsedMs).toBeGreaterThanOrEqual(1_200);
    await waitFor(
      'five datagrams',
      () =>
        canary
          .stdout()
          .split('\n')
          .filter((l) => l === `udp ${nonce}`).length === 5,
    );
    const lines = canary.stdout().trimEnd().split('\n');
    expect(lines.filter((line) => line === `tcp ${nonce}`)).toHaveLength(1);
    expect(lines.filter((line) => line === `udp ${nonce}`)).toHaveLength(5);
    expect(lines).toHaveLength(6);
  });

  it('missed: nothing listens, one TCP attempt, the sender prints missed and exits 0', async () => {
    const at = await ports();
    const sender = await runSender(senderLanguage, { nonce: 'cordon-probe-x', untilAnswered: false, ...at }).finished;
    expect(sender).toMatchObject({ exitCode: 0, stdout: 'missed\n', stderr: '' });
    expect(sender.elapsedMs).toBeGreaterThanOrEqual(1_200);
    expect(sender.elapsedMs).toBeLessThan(5_000);
  });

  it('until answered: retries TCP until a late canary answers, and reaches it', async () => {
    const at = await ports();
    const nonce = `cordon-control-${canaryLanguage}-${senderLanguage}`;
    const sender = runSender(senderLanguage, { nonce, untilAnswered: true, ...at });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(sender.child.exitCode).toBeNull();
    const canary = await startCanary(canaryLanguage, at);
    expect(await sender.finished).toMatchObject({ exitCode: 0, stdout: 'reached\n' });
    // The datagrams went out before the canary was up: only TCP got through.
    expect(canary.stdout()).toBe(`tcp ${nonce}\n`);
  });
});

describe.each(INTERPRETERS)('isolation canary (%s)', (interpreter) => {
  it('answers each TCP line with ok and closes, and logs trimmed lines and datagrams', async () => {
    const at = await ports();
    const canary = await startCanary(interpreter, at);
    const reply = await new Promise<string>((resolve, reject) => {
      let data = '';
      const socket = connect({ host: HOST, port: at.tcpPort }, () => socket.write('  a line \n'));
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(reply).toBe('ok\n');
    const udp = createSocket('udp4');
    await new Promise((resolve) => udp.send(' a datagram\n', at.udpPort, HOST, resolve));
    udp.close();
    await waitFor('the datagram', () => canary.stdout().includes('udp '));
    expect(canary.stdout()).toBe('tcp a line\nudp a datagram\n');
  });
});

describe.each(INTERPRETERS)('isolation sender (%s)', (interpreter) => {
  it('neither retries nor finishes when the peer closes without answering (the node original does the same)', async () => {
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.end();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const tcpPort = (server.address() as { port: number }).port;
    let connections = 0;
    server.on('connection', () => connections++);
    const sender = runSender(interpreter, { nonce: 'n', untilAnswered: true, tcpPort, udpPort: await freeUdpPort() });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(sender.child.exitCode).toBeNull();
    expect(sender.stdout()).toBe('');
    expect(connections).toBe(1);
  });
});
