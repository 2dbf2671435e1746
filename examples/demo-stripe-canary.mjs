// A stand-in for Stripe's API for the demo's allow-list case: an HTTP server on this
// machine's loopback (random port) that answers GET /v1/balance like api.stripe.com
// does, refuses a request without a secret key like it does, and says whether a
// nonce was seen in any request (path or headers).
import { createServer } from 'node:http';

const BALANCE = {
  object: 'balance',
  available: [{ amount: 4200, currency: 'usd', source_types: { card: 4200 } }],
  pending: [{ amount: 0, currency: 'usd', source_types: { card: 0 } }],
  livemode: false,
};

export async function startStripeCanary() {
  const seen = [];
  const server = createServer((request, response) => {
    seen.push(`${request.method} ${request.url}\n${request.rawHeaders.join('\n')}`);
    request.resume();
    const reply = (status, body) => {
      const text = JSON.stringify(body);
      response.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
        'Request-Id': 'req_cordon_demo',
        Connection: 'close',
      });
      response.end(text);
    };
    if (!/^Bearer sk_test_\w+$/.test(request.headers.authorization ?? ''))
      return reply(401, { error: { type: 'invalid_request_error', message: 'You did not provide an API key.' } });
    if (request.method === 'GET' && request.url === '/v1/balance') return reply(200, BALANCE);
    return reply(404, {
      error: {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${request.method}: ${request.url}).`,
      },
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    saw: (nonce) => seen.some((text) => text.includes(nonce)),
    settle: () => new Promise((resolve) => setTimeout(resolve, 100)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
