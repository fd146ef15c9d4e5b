// Usage by day and model (GET /v1/usage), and for an admin across keys (GET /admin/v1/usage).
import { useEffect, useState } from 'preact/hooks';
import { api, BarChart, html, usd } from './lib.js';

const METRICS = { spend_usd: ['Spend', usd], images: ['Images', String], requests: ['Requests', String] };
const DAY = 86_400;

export function Usage({ apiKey, admin }) {
  const [days, setDays] = useState(30);
  const [metric, setMetric] = useState('spend_usd');
  const [report, setReport] = useState(null);
  const [names, setNames] = useState({});
  const [error, setError] = useState(null);

  useEffect(() => {
    // Whole UTC days, today included.
    const to = (Math.floor(Date.now() / 1000 / DAY) + 1) * DAY;
    const from = to - days * DAY;
    setReport(null);
    api(apiKey, `${admin ? '/admin' : ''}/v1/usage?from=${from}&to=${to}`)
      .then(({ json }) => setReport(json))
      .catch((err) => setError(err.message));
    if (admin) {
      api(apiKey, '/admin/v1/keys')
        .then(({ json }) => setNames(Object.fromEntries(json.data.map((k) => [k.id, `${k.name ?? k.display_prefix}`]))))
        .catch(() => {});
    }
  }, [apiKey, admin, days]);

  if (error) return html`<div class="error">${error}</div>`;
  if (report === null) return html`<p class="muted">Loading usage…</p>`;
  const [label, format] = METRICS[metric];
  // Every UTC day of the period, so quiet days show as gaps.
  const dayList = [];
  for (let t = report.from - (report.from % DAY); t < report.to; t += DAY) dayList.push(new Date(t * 1000).toISOString().slice(0, 10));
  const byModel = report.data.map((r) => ({ x: r.date, series: r.model, value: r[metric] }));
  const byKey = report.data.map((r) => ({ x: r.date, series: names[r.api_key_id] ?? r.api_key_id, value: r[metric] }));
  return html`<div>
    <section class="panel" id="usage">
      <h2>${admin ? 'Usage across keys' : 'Your usage'}</h2>
      <div class="row">
        <label
          >Period
          <select value=${days} onChange=${(e) => setDays(Number(e.currentTarget.value))}>
            ${[7, 30, 90].map((d) => html`<option value=${d}>last ${d} days</option>`)}
          </select></label
        >
        <label
          >Show
          <select value=${metric} onChange=${(e) => setMetric(e.currentTarget.value)}>
            ${Object.entries(METRICS).map(([k, [l]]) => html`<option value=${k}>${l}</option>`)}
          </select></label
        >
        <p>
          <strong>${usd(report.totals.spend_usd)}</strong> spent · ${report.totals.images} images · ${report.totals.requests} requests
          ${!admin && report.budget_usd !== null ? html` · budget ${usd(report.budget_usd)}, committed ${usd(report.committed_usd)}` : null}
        </p>
      </div>
      <h3>${label} by day and model</h3>
      <${BarChart} rows=${byModel} days=${dayList} format=${format} label=${`${label} by day and model`} />
      ${
        admin
          ? html`<h3>${label} by day and key</h3>
              <${BarChart} rows=${byKey} days=${dayList} format=${format} label=${`${label} by day and key`} />`
          : null
      }
    </section>
    <section class="panel">
      <table>
        <thead>
          <tr>
            <th>Day</th>
            ${admin ? html`<th>Key</th>` : null}
            <th>Model</th>
            <th>Requests</th>
            <th>Images</th>
            <th>Spend</th>
          </tr>
        </thead>
        <tbody>
          ${report.data.map(
            (r) =>
              html`<tr>
                <td>${r.date}</td>
                ${admin ? html`<td>${names[r.api_key_id] ?? r.api_key_id}</td>` : null}
                <td>${r.model}</td>
                <td>${r.requests}</td>
                <td>${r.images}</td>
                <td>${usd(r.spend_usd)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>
  </div>`;
}
