// Shared helpers: the htm binding, the API client, formatting, and the small SVG bar chart.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

/** An API error in the OpenAI envelope, with its HTTP status. */
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the gateway with the signed-in key; JSON in and out; errors as ApiError. */
export async function api(key, path, { method = 'GET', body, signal } = {}) {
  const headers = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  return readAnswer(response);
}

export async function readAnswer(response) {
  const text = await response.text();
  let json;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (!response.ok) throw new ApiError(response.status, json?.error?.message ?? `HTTP ${response.status}`, json?.error?.code ?? null);
  return { json, headers: response.headers };
}

export const usd = (value) => (value === null || value === undefined ? '—' : `$${Number(value).toFixed(value !== 0 && Math.abs(value) < 0.01 ? 4 : 2)}`);
export const when = (seconds) => (seconds === null || seconds === undefined ? '—' : new Date(seconds * 1000).toLocaleString());
export const bytes = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(0)} KB` : `${(n / 1048576).toFixed(1)} MB`);

const PALETTE = ['#3454d1', '#e07a1f', '#1e8e3e', '#b03a8c', '#0f9bb3', '#7a5cd1', '#c0392b', '#6b8e23'];
export const color = (i) => PALETTE[i % PALETTE.length];

/**
 * A stacked bar chart: one bar per x label, one colour per series.
 * rows: [{ x, series, value }].
 */
export function BarChart({ rows, days, format = (v) => String(v), height = 180, label }) {
  const xs = rows.length === 0 ? [] : (days ?? [...new Set(rows.map((r) => r.x))].sort());
  const series = [...new Set(rows.map((r) => r.series))].sort();
  if (xs.length === 0) return html`<p class="muted">Nothing recorded in this period.</p>`;
  const totals = xs.map((x) => rows.filter((r) => r.x === x).reduce((s, r) => s + r.value, 0));
  const max = Math.max(...totals) || 1;
  const left = 48;
  const bottom = 22;
  const top = 12;
  const width = Math.max(320, left + xs.length * (xs.length > 31 ? 14 : 30));
  const slot = (width - left) / xs.length;
  const barW = Math.min(28, slot * 0.7);
  const y = (v) => top + (height - bottom - top) * (1 - v / max);
  const bars = [];
  xs.forEach((x, i) => {
    let acc = 0;
    for (const [si, s] of series.entries()) {
      const value = rows.filter((r) => r.x === x && r.series === s).reduce((sum, r) => sum + r.value, 0);
      if (value <= 0) continue;
      const barTop = y(acc + value);
      bars.push(
        html`<rect x=${left + i * slot + (slot - barW) / 2} y=${barTop} width=${barW} height=${y(acc) - barTop} fill=${color(si)}
          ><title>${x} · ${s}: ${format(value)}</title></rect
        >`,
      );
      acc += value;
    }
  });
  const ticks = [0, 0.5, 1].map(
    (f) =>
      html`<g
        ><line x1=${left} x2=${width} y1=${y(max * f)} y2=${y(max * f)} stroke="#e3e6eb" /><text x=${left - 6} y=${y(max * f) + 3} text-anchor="end"
          >${format(max * f)}</text
        ></g
      >`,
  );
  const every = Math.ceil(xs.length / 10);
  const labels = xs.map((x, i) =>
    i % every === 0 ? html`<text x=${left + i * slot + slot / 2} y=${height - 6} text-anchor="middle">${x.length > 8 ? x.slice(5) : x}</text>` : null,
  );
  return html`<div>
    <svg class="chart" role="img" aria-label=${label} viewBox="0 0 ${width} ${height}" width=${width} height=${height} style="max-width:100%">
      ${ticks}${bars}${labels}
    </svg>
    <div class="legend">${series.map((s, i) => html`<span><i style="background:${color(i)}"></i>${s}</span>`)}</div>
  </div>`;
}
