// A canary for the demo: a TCP server on this machine that records every byte it
// receives, answers HTTP requests with a small JSON body (so SDK controls succeed),
// and says whether a nonce was seen — in an HTTP path or body, or in a TLS SNI.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

export async function startDemoCanary(bindAddress) {
  const received = [];
  const sockets = new Set();
  const server = createServer((socket) => {
    sockets.add(socket);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      received.push(chunk.toString('latin1'));
      const text = buffer.toString('latin1');
      const headerEnd = text.indexOf('\r\n\r\n');
      if (!/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text) || headerEnd < 0) return;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
      if (buffer.length < headerEnd + 4 + length) return;
      const body = JSON.stringify({ id: 'cus_canary', object: 'customer' });
      socket.end(
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    // TLS clients send their ClientHello (with SNI) and wait; recording it is enough.
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, bindAddress, resolve);
  });
  return {
    port: server.address().port,
    newNonce: () => `n${randomBytes(8).toString('hex')}`,
    saw: (nonce) => received.some((text) => text.includes(nonce)) || received.join('').includes(nonce),
    settle: () => new Promise((resolve) => setTimeout(resolve, 100)),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
