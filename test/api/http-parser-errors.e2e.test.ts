import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { assertEnvelope, openSocket, portOf, rawExchange, readUntilClose } from '../support/raw-http.ts';

/**
 * What the HTTP parser refuses, answered over raw sockets (a client library would refuse to send
 * most of these). Every answer is the OpenAI envelope, never Fastify's `{"error":"Bad Request",
 * "message":"Client Error","statusCode":400}` or Node's empty body, and closes the connection.
 */
describe('HTTP parser errors and request timeouts', () => {
  let gateway: TestGateway;
  let port = 0;
  before(async () => {
    gateway = await startGateway({ IMAGEGATE_REQUEST_TIMEOUT_MS: '1500', IMAGEGATE_HEADERS_TIMEOUT_MS: '800' });
    port = portOf(gateway.baseUrl);
  });
  after(async () => {
    await gateway.close();
  });

  const cases: ReadonlyArray<{ name: string; bytes: string; status: number; code: string; param?: string }> = [
    {
      name: 'duplicate Content-Length',
      bytes: 'POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      status: 400,
      code: 'malformed_request',
    },
    {
      name: 'Content-Length beside Transfer-Encoding',
      bytes: 'POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      status: 400,
      code: 'malformed_request',
    },
    {
      name: 'bad chunk size',
      bytes: 'POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      status: 400,
      code: 'malformed_request',
    },
    { name: 'no Host on HTTP/1.1', bytes: 'GET /healthz HTTP/1.1\r\n\r\n', status: 400, code: 'malformed_request', param: 'Host' },
    {
      name: 'headers over 16 KB',
      bytes: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      status: 431,
      code: 'request_header_fields_too_large',
    },
    { name: 'garbage request line', bytes: 'HELLO THERE\r\n\r\n', status: 400, code: 'malformed_request' },
    { name: 'NUL in a header', bytes: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n', status: 400, code: 'malformed_request' },
    {
      name: 'an Expect other than 100-continue',
      bytes: 'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n',
      status: 417,
      code: 'expectation_failed',
      param: 'Expect',
    },
    { name: 'headers that never finish', bytes: 'GET /healthz HTTP/1.1\r\nHost: x\r\n', status: 408, code: 'request_timeout' },
  ];

  for (const entry of cases) {
    it(`${entry.name}: ${entry.status} in the OpenAI envelope, connection closed`, async () => {
      const answer = await rawExchange(port, entry.bytes, { timeoutMs: 5000 });
      assert.equal(answer.status, entry.status, `${entry.name}: ${JSON.stringify(answer)}`);
      const { error } = assertEnvelope(answer.body, entry.name);
      assert.equal(error.code, entry.code);
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.param, entry.param ?? null);
      assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(answer.headers['connection'], 'close');
      assert.match(answer.headers['x-request-id'] ?? '', /^req_[0-9a-f]{24}$/);
      assert.equal(Number(answer.headers['content-length']), Buffer.byteLength(answer.body));
    });
  }

  it('a body that trickles in slower than the request timeout is cut with a 408 envelope, not kept open', async () => {
    const head = `POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway.key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const answer = await rawExchange(port, `${head}1\r\n{\r\n`, { timeoutMs: 6000, trickle: '1\r\n \r\n' });
    assert.equal(answer.status, 408, JSON.stringify(answer));
    assert.equal(assertEnvelope(answer.body).error.code, 'request_timeout');
    assert.equal(answer.headers['x-should-retry'], 'true');
    // 1.5 s limit, checked every ~200 ms; the upper bound leaves room for a loaded machine.
    assert.ok(answer.elapsedMs >= 1400 && answer.elapsedMs < 5000, `closed after ${answer.elapsedMs} ms`);
  });

  it('a malformed URL is a 404 envelope', async () => {
    const answer = await rawExchange(port, 'GET /v1/images/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(answer.status, 404);
    assertEnvelope(answer.body);
  });
});

describe('the connection cap', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ IMAGEGATE_MAX_CONNECTIONS: '3' });
  });
  after(async () => {
    await gateway.close();
  });

  it('connections over server.maxConnections are closed at once; the ones under it are served', async () => {
    const port = portOf(gateway.baseUrl);
    const held = await Promise.all([openSocket(port), openSocket(port), openSocket(port)]);
    try {
      // Let the server register all three before the fourth arrives.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const extra = await openSocket(port);
      const dropped = await readUntilClose(extra, 2000);
      assert.equal(dropped.body, '');
      const first = held[0];
      assert.ok(first !== undefined);
      first.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const served = await readUntilClose(first, 5000);
      assert.equal(served.status, 200, served.body);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});
