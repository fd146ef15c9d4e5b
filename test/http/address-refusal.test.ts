import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import { downloadImage } from '../../src/http/download.ts';
import { createGuardedAgent, type Resolve } from '../../src/http/guarded-agent.ts';

/** A resolver that knows one name, or none: the two views of an internal DNS a prober compares. */
function resolver(known: Record<string, string>): Resolve {
  return (hostname, _options, callback) => {
    const address = known[hostname];
    if (address === undefined) {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      err.code = 'ENOTFOUND';
      setImmediate(() => callback(err, []));
      return;
    }
    const entry: LookupAddress = { address, family: 4 };
    setImmediate(() => callback(null, [entry]));
  };
}

async function refusalFor(resolve: Resolve, url: string): Promise<string> {
  const agent = createGuardedAgent({ connectTimeoutMs: 2000, resolve });
  try {
    await downloadImage(url, { dispatcher: agent, allowPrivate: false, maxBytes: 1024, timeoutMs: 2000, signal: new AbortController().signal });
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err.message;
  } finally {
    await agent.close();
  }
  assert.fail('the download was not refused');
}

describe('address-policy refusals do not tell which internal names exist', () => {
  it('a name resolving to a private address and a name that does not resolve are refused in the same words', async () => {
    const exists = await refusalFor(resolver({ 'db.corp.example': '10.1.2.3' }), 'http://db.corp.example/x.png');
    const missing = await refusalFor(resolver({}), 'http://db.corp.example/x.png');
    assert.equal(exists, missing);
    assert.match(exists, /db\.corp\.example does not resolve to a public address/);
    assert.doesNotMatch(missing, /ENOTFOUND|getaddrinfo/);
  });

  it('localhost reads the same as any other name that is not public', async () => {
    const local = await refusalFor(resolver({}), 'http://localhost/x.png');
    assert.match(local, /localhost does not resolve to a public address/);
  });
});
