// Channels (admin): each upstream channel's models, health, breaker, recent error rate and latency.
import { useEffect, useState } from 'preact/hooks';
import { api, html } from './lib.js';

const HEALTH = { ok: 'ok', idle: '', degraded: 'warn', probing: 'warn', down: 'bad' };

export function Channels({ apiKey }) {
  const [channels, setChannels] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const load = () =>
      api(apiKey, '/admin/v1/channels')
        .then(({ json }) => setChannels(json.data))
        .catch((err) => setError(err.message));
    void load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [apiKey]);

  if (error) return html`<div class="error">${error}</div>`;
  if (channels === null) return html`<p class="muted">Loading channels…</p>`;
  const pct = (rate) => (rate === null ? '—' : `${(rate * 100).toFixed(0)}%`);
  const ms = (v) => (v === null ? '—' : `${v} ms`);
  return html`<section class="panel">
    <h2>Channels</h2>
    ${channels.length === 0 ? html`<p class="muted">No channel has been used yet (channels appear here once configured; the local renderer once it has served a request).</p>` : null}
    <table id="channels">
      <thead>
        <tr>
          <th>Channel</th>
          <th>Provider</th>
          <th>Models</th>
          <th>Health</th>
          <th>Breaker</th>
          <th>Recent attempts</th>
          <th>Error rate</th>
          <th>Latency p50 / p95</th>
          <th>Last error</th>
        </tr>
      </thead>
      <tbody>
        ${channels.map(
          (c) =>
            html`<tr>
              <td>
                <strong>${c.id}</strong>
                <div class="muted">priority ${c.priority} · weight ${c.weight}</div>
              </td>
              <td>${c.provider}</td>
              <td>${c.models.join(', ')}</td>
              <td><span class=${`badge ${HEALTH[c.health] ?? ''}`}>${c.health}</span></td>
              <td>
                ${c.breaker.state}${c.breaker.retry_after_ms > 0 ? html`<div class="muted">${Math.ceil(c.breaker.retry_after_ms / 1000)} s left</div>` : null}
              </td>
              <td>
                ${c.recent.attempts}${c.recent.last_attempt_ago_s === null ? null : html`<div class="muted">last ${c.recent.last_attempt_ago_s} s ago</div>`}
              </td>
              <td>${pct(c.recent.error_rate)}</td>
              <td>${ms(c.recent.latency_ms.p50)} / ${ms(c.recent.latency_ms.p95)}</td>
              <td>${c.recent.last_error_code ?? '—'}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
