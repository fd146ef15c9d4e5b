// Keys (admin): create with budget, limits, models and expiry; the new key shown once; update; revoke.
import { useEffect, useState } from 'preact/hooks';
import { api, html, usd, when } from './lib.js';

const EMPTY = { name: '', budget_usd: '', requests_per_minute: '', images_per_minute: '', max_concurrent: '', allowed_models: '', expires: '' };

/** The form as the admin API takes it; an empty field means no limit (null). */
function settingsOf(form) {
  const number = (text) => (text === '' ? null : Number(text));
  const models = form.allowed_models
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    ...(form.name === '' ? {} : { name: form.name }),
    budget_usd: number(form.budget_usd),
    requests_per_minute: number(form.requests_per_minute),
    images_per_minute: number(form.images_per_minute),
    max_concurrent: number(form.max_concurrent),
    allowed_models: models.length === 0 ? null : models,
    expires_at: form.expires === '' ? null : Math.floor(new Date(`${form.expires}T23:59:59Z`).getTime() / 1000),
  };
}

function formOf(key) {
  const text = (v) => (v === null || v === undefined ? '' : String(v));
  return {
    name: text(key.name),
    budget_usd: text(key.budget_usd),
    requests_per_minute: text(key.requests_per_minute),
    images_per_minute: text(key.images_per_minute),
    max_concurrent: text(key.max_concurrent),
    allowed_models: (key.allowed_models ?? []).join(', '),
    expires: key.expires_at === null ? '' : new Date(key.expires_at * 1000).toISOString().slice(0, 10),
  };
}

export function Keys({ apiKey }) {
  const [keys, setKeys] = useState(null);
  const [form, setForm] = useState(EMPTY);
  const [editing, setEditing] = useState(null);
  const [created, setCreated] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [error, setError] = useState(null);

  const load = () =>
    api(apiKey, '/admin/v1/keys')
      .then(({ json }) => setKeys(json.data))
      .catch((err) => setError(err.message));
  useEffect(() => void load(), [apiKey]);

  const set = (name) => (event) => {
    const value = event.currentTarget.value;
    setForm((f) => ({ ...f, [name]: value }));
  };

  async function save(event) {
    event.preventDefault();
    setError(null);
    try {
      if (editing === null) {
        const { json } = await api(apiKey, '/admin/v1/keys', { method: 'POST', body: settingsOf(form) });
        setCreated(json);
      } else {
        await api(apiKey, `/admin/v1/keys/${editing}`, { method: 'PATCH', body: settingsOf(form) });
        setEditing(null);
      }
      setForm(EMPTY);
      await load();
    } catch (err) {
      setError(err.message);
    }
  }

  async function revoke(id) {
    setError(null);
    try {
      await api(apiKey, `/admin/v1/keys/${id}`, { method: 'DELETE' });
      setConfirming(null);
      await load();
    } catch (err) {
      setError(err.message);
    }
  }

  return html`<div>
    <form class="panel" onSubmit=${save} id="key-form">
      <h2>${editing === null ? 'New key' : `Edit ${editing}`}</h2>
      ${
        created
          ? html`<div class="notice" id="new-key">
              New key <strong>${created.name}</strong>, shown only this once: <code>${created.key}</code>
              <button type="button" class="secondary" onClick=${() => navigator.clipboard?.writeText(created.key)}>Copy</button>
              <button type="button" class="secondary" onClick=${() => setCreated(null)}>Done</button>
            </div>`
          : null
      }
      <div class="row">
        <label>Name <input name="name" value=${form.name} onInput=${set('name')} placeholder="e.g. web app" /></label>
        <label
          >Budget (USD)
          <input name="budget_usd" type="number" min="0" step="0.01" value=${form.budget_usd} onInput=${set('budget_usd')} placeholder="unlimited"
        /></label>
        <label
          >Requests/min
          <input name="requests_per_minute" type="number" min="1" value=${form.requests_per_minute} onInput=${set('requests_per_minute')} placeholder="—"
        /></label>
        <label
          >Images/min <input name="images_per_minute" type="number" min="1" value=${form.images_per_minute} onInput=${set('images_per_minute')} placeholder="—"
        /></label>
        <label
          >Concurrent <input name="max_concurrent" type="number" min="1" value=${form.max_concurrent} onInput=${set('max_concurrent')} placeholder="—"
        /></label>
      </div>
      <div class="row">
        <label
          >Models (comma-separated; empty = all)
          <input name="allowed_models" value=${form.allowed_models} onInput=${set('allowed_models')} placeholder="gpt-image-1, flux-pro-1.1"
        /></label>
        <label>Expires (UTC day) <input name="expires" type="date" value=${form.expires} onInput=${set('expires')} /></label>
      </div>
      ${error ? html`<div class="error">${error}</div>` : null}
      <p class="row">
        <button class="primary" type="submit">${editing === null ? 'Create key' : 'Save'}</button>
        ${
          editing === null
            ? null
            : html`<button
                type="button"
                class="secondary"
                onClick=${() => {
                  setEditing(null);
                  setForm(EMPTY);
                }}
              >
                Cancel
              </button>`
        }
      </p>
    </form>
    <section class="panel">
      <h2>Keys</h2>
      ${
        keys === null
          ? html`<p class="muted">Loading keys…</p>`
          : html`<table id="keys">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Key</th>
                  <th>Models</th>
                  <th>Budget</th>
                  <th>Spent</th>
                  <th>Limits</th>
                  <th>Expires</th>
                  <th>Status</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                ${keys.map(
                  (k) =>
                    html`<tr data-key-id=${k.id}>
                      <td>${k.name}</td>
                      <td><code>${k.display_prefix}</code></td>
                      <td>${k.allowed_models === null ? html`<span class="muted">all</span>` : k.allowed_models.join(', ')}</td>
                      <td>${k.budget_usd === null ? html`<span class="muted">none</span>` : usd(k.budget_usd)}</td>
                      <td>${usd(k.committed_usd)}</td>
                      <td class="muted">
                        ${[k.requests_per_minute && `${k.requests_per_minute} req/min`, k.images_per_minute && `${k.images_per_minute} img/min`, k.max_concurrent && `${k.max_concurrent} at once`].filter(Boolean).join(', ') || '—'}
                      </td>
                      <td>${k.expires_at === null ? '—' : when(k.expires_at)}</td>
                      <td>${k.revoked_at === null ? html`<span class="badge ok">active</span>` : html`<span class="badge bad">revoked</span>`}</td>
                      <td>
                        ${
                          k.revoked_at === null
                            ? html`<button
                                  class="secondary"
                                  onClick=${() => {
                                    setEditing(k.id);
                                    setForm(formOf(k));
                                    setCreated(null);
                                  }}
                                >
                                  Edit
                                </button>
                                ${
                                  confirming === k.id
                                    ? html`<button class="danger" onClick=${() => revoke(k.id)}>Confirm revoke</button>`
                                    : html`<button class="danger" onClick=${() => setConfirming(k.id)}>Revoke</button>`
                                }`
                            : null
                        }
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>
  </div>`;
}
