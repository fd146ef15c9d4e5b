// The imagegate console: sign in with a key (kept in sessionStorage only); a user key gets the
// playground, gallery and usage; an admin key (told apart by trying the admin API) gets keys,
// usage across keys and channels.
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, html } from './lib.js';
import { Playground } from './playground.js';
import { Gallery } from './gallery.js';
import { Usage } from './usage.js';
import { Keys } from './keys.js';
import { Channels } from './channels.js';

const STORAGE = 'imagegate.key';
const VIEWS = {
  user: [
    ['playground', 'Playground'],
    ['gallery', 'Gallery'],
    ['usage', 'Usage'],
  ],
  admin: [
    ['keys', 'Keys'],
    ['admin-usage', 'Usage'],
    ['channels', 'Channels'],
  ],
};

/** Admin if the admin API takes the key, user if /v1 does; otherwise the gateway's own message. */
async function roleOf(key) {
  try {
    await api(key, '/admin/v1/keys');
    return 'admin';
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
  await api(key, '/v1/models');
  return 'user';
}

function SignIn({ onSignedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const role = await roleOf(key.trim());
      sessionStorage.setItem(STORAGE, key.trim());
      onSignedIn({ key: key.trim(), role });
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<form class="panel signin" onSubmit=${submit} id="signin">
    <h2>imagegate console</h2>
    <p class="muted">Paste an API key. It stays in this tab (session storage) and is sent only to this gateway.</p>
    <label>API key <input name="key" type="password" autocomplete="off" value=${key} onInput=${(e) => setKey(e.currentTarget.value)} required /></label>
    ${error ? html`<div class="error">${error}</div>` : null}
    <button class="primary" type="submit" disabled=${busy}>Sign in</button>
  </form>`;
}

function App({ initial }) {
  const [session, setSession] = useState(initial);
  const [view, setView] = useState(initial ? VIEWS[initial.role][0][0] : null);
  if (session === null) {
    return html`<${SignIn}
      onSignedIn=${(s) => {
        setSession(s);
        setView(VIEWS[s.role][0][0]);
      }}
    />`;
  }
  const signOut = () => {
    sessionStorage.removeItem(STORAGE);
    setSession(null);
  };
  const props = { apiKey: session.key };
  const body = {
    playground: () => html`<${Playground} ...${props} />`,
    gallery: () => html`<${Gallery} ...${props} />`,
    usage: () => html`<${Usage} ...${props} admin=${false} />`,
    keys: () => html`<${Keys} ...${props} />`,
    'admin-usage': () => html`<${Usage} ...${props} admin=${true} />`,
    channels: () => html`<${Channels} ...${props} />`,
  }[view];
  return html`<div>
    <header>
      <strong>imagegate</strong>
      <nav>${VIEWS[session.role].map(([id, label]) => html`<button class=${view === id ? 'active' : ''} onClick=${() => setView(id)}>${label}</button>`)}</nav>
      <span class="who">${session.role === 'admin' ? 'admin key' : 'user key'}</span>
      <button class="secondary" onClick=${signOut}>Sign out</button>
    </header>
    <main>${body()}</main>
  </div>`;
}

async function start() {
  const key = sessionStorage.getItem(STORAGE);
  let initial = null;
  if (key) {
    try {
      initial = { key, role: await roleOf(key) };
    } catch {
      sessionStorage.removeItem(STORAGE);
    }
  }
  const root = document.getElementById('app');
  root.textContent = '';
  render(html`<${App} initial=${initial} />`, root);
}

void start();
