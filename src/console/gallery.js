// The gallery: the key's own images (GET /v1/images), newest first, a page at a time.
import { useEffect, useState } from 'preact/hooks';
import { api, bytes, html, when } from './lib.js';

const PAGE = 12;

export function Gallery({ apiKey }) {
  // `cursors[i]` is the `after` of page i (page 0 has none).
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const after = cursors[cursors.length - 1];

  useEffect(() => {
    setPage(null);
    api(apiKey, `/v1/images?limit=${PAGE}${after ? `&after=${encodeURIComponent(after)}` : ''}`)
      .then(({ json }) => setPage(json))
      .catch((err) => setError(err.message));
  }, [apiKey, after]);

  if (error) return html`<div class="error">${error}</div>`;
  if (page === null) return html`<p class="muted">Loading images…</p>`;
  return html`<div>
    ${
      open
        ? html`<section class="panel" id="gallery-detail">
            <h2>${open.id}</h2>
            <div class="detail">
              <img src=${open.url} alt=${open.id} />
              <div>
                <dl>
                  <dt>Created</dt>
                  <dd>${when(open.created)}</dd>
                  <dt>Model</dt>
                  <dd>${open.model}</dd>
                  <dt>Provider</dt>
                  <dd>${open.provider}</dd>
                  <dt>Size</dt>
                  <dd>${open.size}</dd>
                  <dt>Format</dt>
                  <dd>${open.output_format}</dd>
                  <dt>Bytes</dt>
                  <dd>${bytes(open.bytes)}</dd>
                  <dt>Request</dt>
                  <dd>${open.request_id}</dd>
                  <dt>Kept until</dt>
                  <dd>${when(open.expires_at)}</dd>
                </dl>
                <p class="row">
                  <a class="secondary" href=${open.url} target="_blank" rel="noopener">Open</a>
                  <a href=${open.url} download=${`${open.id}.${open.output_format}`}>Download</a>
                  <button class="secondary" onClick=${() => setOpen(null)}>Close</button>
                </p>
              </div>
            </div>
          </section>`
        : null
    }
    <section class="panel">
      <h2>Gallery</h2>
      ${page.data.length === 0 ? html`<p class="muted">No images yet: make one in the playground.</p>` : null}
      <div class="images" id="gallery">
        ${page.data.map(
          (image) =>
            html`<figure class="thumb">
              <img src=${image.url} alt=${image.id} loading="lazy" onClick=${() => setOpen(image)} />
              <figcaption>
                <span>${image.model} · ${image.size}</span><a href=${image.url} download=${`${image.id}.${image.output_format}`}>Download</a>
              </figcaption>
            </figure>`,
        )}
      </div>
      <p class="row">
        <button class="secondary" disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
        <span class="muted">Page ${cursors.length}</span>
        <button class="secondary" disabled=${!page.has_more} onClick=${() => setCursors([...cursors, page.last_id])}>Older</button>
      </p>
    </section>
  </div>`;
}
