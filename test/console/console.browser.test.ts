import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/*
 * The web console in a real browser: the machine's Chromium driven by playwright-core (`.ci/run`
 * installs Debian's `chromium` when it is missing). With IMAGEGATE_CONSOLE_SCREENSHOTS=1
 * (`npm run screenshots`) each view is also saved as docs/console-<view>.png.
 */
const CHROMIUM = '/usr/bin/chromium';
const DOCS = path.resolve(import.meta.dirname, '../../docs');
const SCREENSHOTS = process.env['IMAGEGATE_CONSOLE_SCREENSHOTS'] === '1';

async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(DOCS, `console-${name}.png`), fullPage: true });
}

async function signIn(page: Page, baseUrl: string, key: string, screenshot = false): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.fill('#signin input[name=key]', key);
  if (screenshot) await shot(page, 'signin');
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('header nav');
}

describe('web console (Chromium)', () => {
  let gateway: TestGateway;
  let adminKey: string;
  let context: BrowserContext;
  let profile: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
    gateway = await startGateway();
    adminKey = (await gateway.deps.keys.create({ name: 'admin', role: 'admin' })).plaintext;
    profile = mkdtempSync(path.join(tmpdir(), 'imagegate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1280, height: 860 },
    });
  });

  after(async () => {
    await context?.close();
    await gateway?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  it('serves the console to browsers only: API clients still get the JSON 404 at /', async () => {
    const api = await fetch(`${gateway.baseUrl}/`, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'not_found');
    const browser = await fetch(`${gateway.baseUrl}/`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(browser.status, 200);
    assert.match(browser.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await browser.text(), /importmap/);
    const preact = await fetch(`${gateway.baseUrl}/console/vendor/preact.js`);
    assert.equal(preact.status, 200);
    assert.match(preact.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${gateway.baseUrl}/console/../package.json`)).status, 404);
  });

  it('a user key signs in, makes an image in the playground, streams one, and finds them in the gallery and usage', async () => {
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    await signIn(page, gateway.baseUrl, gateway.key, true);
    assert.equal(await page.textContent('header .who'), 'user key');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('imagegate.key')), gateway.key);

    // The form follows the model's capabilities: gpt-image-1 takes quality, background and streaming;
    // dall-e-2 takes none of those but n up to 10.
    await page.selectOption('#playground-form select[name=model]', 'dall-e-2');
    await page.waitForSelector('#playground-form select[name=size]');
    await page.waitForSelector('#playground-form input[name=n][max="10"]');
    assert.equal(
      await page.locator('#playground-form select[name=background], #playground-form select[name=style], #playground-form input[name=stream]').count(),
      0,
    );
    await page.selectOption('#playground-form select[name=model]', 'gpt-image-1');
    await page.waitForSelector('#playground-form select[name=quality]');
    await page.waitForSelector('#playground-form select[name=background]');
    await page.selectOption('#playground-form select[name=size]', '1024x1024');
    await page.selectOption('#playground-form select[name=quality]', 'low');
    await page.fill('#playground-form textarea[name=prompt]', 'a red kite over green hills');
    // The price quote (POST /v1/images/quote) shows before anything is sent.
    await page.waitForSelector('#quote');
    assert.match((await page.textContent('#quote')) ?? '', /Quote: up to \$\d+\.\d+/);
    await page.click('#playground-form button[type=submit]');
    await page.waitForSelector('#playground-result figure.result img');
    const width = await page.$eval('#playground-result figure.result img', (img) => (img as unknown as { naturalWidth: number }).naturalWidth);
    assert.equal(width, 1024);
    assert.match((await page.textContent('#charged')) ?? '', /Charged \$/);
    await shot(page, 'playground');

    // Streaming: partial images arrive before the final one.
    await page.check('#playground-form input[name=stream]');
    await page.selectOption('#playground-form select[name=partial_images]', '2');
    await page.click('#playground-form button[type=submit]');
    await page.waitForSelector('#playground-result[data-partials="2"] figure.result img');

    await page.click('header nav button:text-is("Gallery")');
    await page.waitForSelector('#gallery figure.thumb img');
    assert.equal(await page.locator('#gallery figure.thumb').count(), 2);
    await page.click('#gallery figure.thumb img >> nth=0');
    await page.waitForSelector('#gallery-detail img');
    assert.match((await page.textContent('#gallery-detail')) ?? '', /gpt-image-1/);
    await shot(page, 'gallery');

    await page.click('header nav button:text-is("Usage")');
    await page.waitForSelector('#usage svg.chart rect');
    assert.match((await page.textContent('#usage')) ?? '', /2 images · 2 requests/);
    await shot(page, 'usage');
    assert.deepEqual(failures, []);
    await page.close();
  });

  it('an admin key creates a key (shown once), revokes it, and sees usage across keys and the channels', async () => {
    const page = await context.newPage();
    await signIn(page, gateway.baseUrl, adminKey);
    assert.equal(await page.textContent('header .who'), 'admin key');

    await page.fill('#key-form input[name=name]', 'browser-made');
    await page.fill('#key-form input[name=budget_usd]', '5');
    await page.fill('#key-form input[name=requests_per_minute]', '30');
    await page.fill('#key-form input[name=allowed_models]', 'gpt-image-1');
    await page.click('#key-form button[type=submit]');
    const plaintext = ((await page.textContent('#new-key code')) ?? '').trim();
    assert.ok(plaintext.length > 20);
    const row = page.locator('#keys tr', { hasText: 'browser-made' });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /\$5\.00.*30 req\/min/);
    assert.equal((await fetch(`${gateway.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${plaintext}` } })).status, 200);
    await shot(page, 'keys');

    await row.locator('button:text-is("Revoke")').click();
    await row.locator('button:text-is("Confirm revoke")').click();
    await row.locator('.badge.bad').waitFor();
    assert.equal((await fetch(`${gateway.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${plaintext}` } })).status, 401);

    await page.click('header nav button:text-is("Usage")');
    await page.waitForSelector('#usage svg.chart rect');
    await shot(page, 'admin-usage');

    await page.click('header nav button:text-is("Channels")');
    const local = page.locator('#channels tr', { hasText: 'local' });
    await local.waitFor();
    assert.match((await local.textContent()) ?? '', /gpt-image-1.*ok/);
    await shot(page, 'channels');
    await page.close();
  });

  it('GET /admin/v1/channels answers admins only', async () => {
    const user = await fetch(`${gateway.baseUrl}/admin/v1/channels`, { headers: { authorization: `Bearer ${gateway.key}` } });
    assert.equal(user.status, 401);
    const admin = await fetch(`${gateway.baseUrl}/admin/v1/channels`, { headers: { authorization: `Bearer ${adminKey}` } });
    const body = (await admin.json()) as {
      data: Array<{ id: string; health: string; breaker: { state: string }; recent: { attempts: number; error_rate: number } }>;
    };
    const local = body.data.find((c) => c.id === 'local');
    assert.ok(local);
    assert.equal(local.breaker.state, 'closed');
    assert.equal(local.recent.attempts, 2);
    assert.equal(local.recent.error_rate, 0);
  });
});
