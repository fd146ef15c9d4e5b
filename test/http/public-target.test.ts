import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import type { ResolveAddresses } from '../../src/http/public-target.ts';
import { assertWebhookTarget, type WebhookTargetPolicy } from '../../src/images/webhook-target.ts';

/** A DNS that knows some names; unknown ones fail as getaddrinfo does, `hangs` never answers. */
function dns(known: Record<string, readonly string[]>): ResolveAddresses {
  return async (hostname) => {
    if (hostname === 'hangs.example') return new Promise<never>(() => {});
    const addresses = known[hostname];
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses;
  };
}

const policy = (resolve: ResolveAddresses, allowPrivate = false): WebhookTargetPolicy => ({ allowPrivate, resolve, resolveTimeoutMs: 50 });

async function refusal(url: string, target: WebhookTargetPolicy): Promise<GatewayError | null> {
  try {
    await assertWebhookTarget(new URL(url), target);
    return null;
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err;
  }
}

describe('webhook targets checked at submit', () => {
  const corp = dns({
    'db.corp.example': ['10.1.2.3'],
    'mixed.example': ['93.184.215.14', '192.168.0.9'],
    'hooks.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  });

  it('refuses a name resolving to a private address in the same words as a name that does not resolve', async () => {
    const exists = await refusal('https://db.corp.example/hook', policy(corp));
    const missing = await refusal('https://db.corp.example/hook', policy(dns({})));
    const late = await refusal('https://hangs.example/hook', policy(corp));
    assert.ok(exists !== null && missing !== null && late !== null);
    assert.equal(exists.message, missing.message);
    assert.equal(late.message, exists.message.replace('db.corp.example', 'hangs.example'));
    assert.deepEqual([exists.param, exists.status, exists.code], ['webhook_url', 400, 'invalid_value']);
    assert.doesNotMatch(missing.message, /ENOTFOUND|getaddrinfo/);
  });

  it('refuses a name with any private address among its answers, and accepts one with only public ones', async () => {
    assert.notEqual(await refusal('https://mixed.example/hook', policy(corp)), null);
    assert.equal(await refusal('https://hooks.example/hook', policy(corp)), null);
  });

  it('with allowPrivate, takes private targets without a lookup but still refuses credentials and other schemes', async () => {
    const noLookup: ResolveAddresses = () => assert.fail('no lookup expected');
    assert.equal(await refusal('http://db.corp.example/hook', policy(noLookup, true)), null);
    assert.equal(await refusal('http://127.0.0.1:9/hook', policy(noLookup, true)), null);
    assert.match((await refusal('http://user:pw@127.0.0.1/hook', policy(noLookup, true)))?.message ?? '', /without a user name or password/);
    assert.match((await refusal('ws://127.0.0.1/hook', policy(noLookup, true)))?.message ?? '', /http or https/);
  });
});
