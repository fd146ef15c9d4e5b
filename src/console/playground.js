// The playground: a form built from GET /v1/models capabilities, the price quote before sending,
// the charged cost after, partial images while a stream runs.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, html, readAnswer, usd } from './lib.js';

/** The fields a model takes, from its `imagegate` capabilities: [name, label, allowed values]. */
function choiceFields(caps) {
  const fields = [];
  if (caps.aspect_ratios) {
    fields.push(['aspect_ratio', 'Aspect ratio', caps.aspect_ratios]);
    if (caps.resolutions?.length > 1) fields.push(['resolution', 'Resolution', caps.resolutions]);
  } else if (caps.sizes?.length > 1) fields.push(['size', 'Size', caps.sizes]);
  if (caps.qualities?.length > 0) fields.push(['quality', 'Quality', caps.qualities]);
  if (caps.output_format_selectable && caps.output_formats.length > 1) fields.push(['output_format', 'Format', caps.output_formats]);
  if (caps.backgrounds?.length > 0) fields.push(['background', 'Background', caps.backgrounds]);
  if (caps.styles?.length > 0) fields.push(['style', 'Style', caps.styles]);
  return fields;
}

/** The request body: only the fields the model takes, and only those the user set. */
function buildBody(model, form) {
  const caps = model.imagegate;
  const body = { model: model.id, prompt: form.prompt };
  for (const [name] of choiceFields(caps)) if (form[name]) body[name] = form[name];
  if (caps.n.max > 1 && Number(form.n) > 1) body.n = Number(form.n);
  if (caps.seed && form.seed !== '') body.seed = Number(form.seed);
  if (caps.negative_prompt_max_chars && form.negative_prompt) body.negative_prompt = form.negative_prompt;
  if (caps.streaming && form.stream) {
    body.stream = true;
    body.partial_images = Number(form.partial_images);
  }
  return body;
}

const mimeOf = (format) => `image/${format === 'jpg' ? 'jpeg' : (format ?? 'png')}`;

/** Reads a text/event-stream body event by event (fetch streaming; EventSource cannot POST). */
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) onEvent(event, JSON.parse(data.join('\n')));
    }
  }
}

export function Playground({ apiKey }) {
  const [models, setModels] = useState(null);
  const [error, setError] = useState(null);
  const [form, setForm] = useState({ model: '', prompt: 'a lighthouse on a cliff at night, oil painting', n: 1, seed: '', stream: false, partial_images: 2 });
  const [quote, setQuote] = useState(null);
  const [quoteAvailable, setQuoteAvailable] = useState(true);
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState(null);
  const [partial, setPartial] = useState(null);
  const [partialCount, setPartialCount] = useState(0);

  useEffect(() => {
    api(apiKey, '/v1/models')
      .then(({ json }) => {
        setModels(json.data);
        const first = json.data.find((m) => m.imagegate.provider !== 'none') ?? json.data[0];
        if (first) setForm((f) => ({ ...f, model: first.id }));
      })
      .catch((err) => setError(err.message));
  }, [apiKey]);

  const model = useMemo(() => models?.find((m) => m.id === form.model) ?? null, [models, form.model]);
  const body = model === null ? null : buildBody(model, form);
  const bodyText = JSON.stringify(body);

  // The quote follows the form (debounced); a gateway without the endpoint (404) hides it.
  const quoteTimer = useRef(null);
  useEffect(() => {
    if (body === null || !quoteAvailable || form.prompt.trim() === '') return;
    clearTimeout(quoteTimer.current);
    const controller = new AbortController();
    const { stream: _s, partial_images: _p, ...quoted } = body;
    quoteTimer.current = setTimeout(() => {
      api(apiKey, '/v1/images/quote', { method: 'POST', body: quoted, signal: controller.signal })
        .then(({ json }) => setQuote({ ok: json }))
        .catch((err) => {
          if (err instanceof ApiError && err.status === 404 && err.code !== 'model_not_found') setQuoteAvailable(false);
          else if (err.name !== 'AbortError') setQuote({ error: err.message });
        });
    }, 250);
    return () => {
      clearTimeout(quoteTimer.current);
      controller.abort();
    };
  }, [bodyText, quoteAvailable]);

  const set = (name) => (event) => {
    const target = event.currentTarget;
    setForm((f) => ({ ...f, [name]: target.type === 'checkbox' ? target.checked : target.value }));
  };

  async function generate(event) {
    event.preventDefault();
    setRunning(true);
    setError(null);
    setResult(null);
    setPartial(null);
    setPartialCount(0);
    try {
      const response = await fetch('/v1/images/generations', {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const cost = response.headers.get('x-imagegate-cost-usd');
      if (body.stream && response.ok && (response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        const images = [];
        await readEvents(response, (name, data) => {
          if (name.endsWith('.partial_image')) {
            setPartial({ src: `data:${mimeOf(data.output_format)};base64,${data.b64_json}`, index: data.partial_image_index });
            setPartialCount((count) => count + 1);
          } else if (name.endsWith('.completed')) {
            images.push({ src: `data:${mimeOf(data.output_format)};base64,${data.b64_json}`, format: data.output_format ?? 'png' });
            setPartial(null);
            setResult({ images: [...images], cost, streamed: true });
          } else if (name === 'error') throw new Error(data.error?.message ?? 'The stream failed.');
        });
        setResult({ images, cost, streamed: true });
      } else {
        const { json, headers } = await readAnswer(response);
        const format = json.output_format ?? 'png';
        const images = json.data.map((d) => ({ src: d.url ?? `data:${mimeOf(format)};base64,${d.b64_json}`, format, revised: d.revised_prompt }));
        setResult({ images, cost: headers.get('x-imagegate-cost-usd'), size: json.size, requestId: headers.get('x-request-id') });
      }
    } catch (err) {
      setError(err.message);
    } finally {
      setRunning(false);
      setPartial(null);
    }
  }

  if (models === null) return error ? html`<div class="error">${error}</div>` : html`<p class="muted">Loading models…</p>`;
  const caps = model?.imagegate;
  return html`<div class="grid2">
    <form class="panel" onSubmit=${generate} id="playground-form">
      <h2>Playground</h2>
      <label
        >Model
        <select name="model" value=${form.model} onChange=${set('model')}>
          ${models.map((m) => html`<option value=${m.id}>${m.id}${m.imagegate.provider === 'none' ? ' (no channel)' : ''}</option>`)}
        </select>
      </label>
      <label>Prompt <textarea name="prompt" value=${form.prompt} onInput=${set('prompt')} maxlength=${caps?.prompt_max_chars} required></textarea></label>
      ${caps?.negative_prompt_max_chars ? html`<label>Negative prompt <input name="negative_prompt" value=${form.negative_prompt ?? ''} onInput=${set('negative_prompt')} /></label>` : null}
      <div class="row">
        ${
          caps
            ? choiceFields(caps).map(
                ([name, label, values]) =>
                  html`<label
                    >${label}
                    <select name=${name} value=${form[name] ?? ''} onChange=${set(name)}>
                      <option value="">default${name === 'size' && caps.default_size ? ` (${caps.default_size})` : ''}</option>
                      ${values.map((v) => html`<option value=${v}>${v}</option>`)}
                    </select></label
                  >`,
              )
            : null
        }
        ${caps?.n.max > 1 ? html`<label>Images (n) <input name="n" type="number" min="1" max=${caps.n.max} value=${form.n} onInput=${set('n')} /></label>` : null}
        ${caps?.seed ? html`<label>Seed <input name="seed" type="number" min="0" max="2147483647" value=${form.seed} onInput=${set('seed')} placeholder="random" /></label>` : null}
      </div>
      ${
        caps?.streaming
          ? html`<div class="row">
              <label><input type="checkbox" name="stream" checked=${form.stream} onChange=${set('stream')} /> Stream partial images</label>
              ${
                form.stream
                  ? html`<label
                      >Partial images
                      <select name="partial_images" value=${form.partial_images} onChange=${set('partial_images')}>
                        ${[0, 1, 2, 3].map((v) => html`<option value=${v}>${v}</option>`)}
                      </select></label
                    >`
                  : null
              }
            </div>`
          : null
      }
      ${
        quoteAvailable && quote?.ok
          ? html`<div class="quote" id="quote">
              Quote: up to <strong>${usd(quote.ok.max_cost_usd)}</strong>, expected ${usd(quote.ok.expected_cost_usd)}
              <span class="muted">(${quote.ok.price?.rule ?? ''})</span>
            </div>`
          : null
      }
      ${quoteAvailable && quote?.error ? html`<div class="quote error">${quote.error}</div>` : null}
      <button class="primary" type="submit" disabled=${running || !model}>${running ? 'Generating…' : 'Generate'}</button>
    </form>
    <section class="panel" id="playground-result" data-partials=${partialCount}>
      <h2>Result</h2>
      ${error ? html`<div class="error">${error}</div>` : null}
      ${result?.cost !== undefined && result?.cost !== null ? html`<p id="charged">Charged <strong>${usd(Number(result.cost))}</strong>${result.size ? html` · ${result.size}` : null}</p>` : null}
      ${result?.streamed && (result.cost === null || result.cost === undefined) ? html`<p class="muted">Streamed (${partialCount} partial images shown); the charge appears under Usage.</p>` : null}
      <div class="images">
        ${
          partial
            ? html`<figure class="partial">
                <img src=${partial.src} alt="partial image" />
                <figcaption>partial ${partial.index + 1}…</figcaption>
              </figure>`
            : null
        }
        ${(result?.images ?? []).map(
          (img, i) =>
            html`<figure class="result">
              <a href=${img.src} target="_blank" rel="noopener"><img src=${img.src} alt=${`image ${i + 1}`} /></a>
              <figcaption><span>#${i + 1}</span><a href=${img.src} download=${`imagegate-${i + 1}.${img.format}`}>Download</a></figcaption>
            </figure>`,
        )}
      </div>
      ${!result && !running && !partial ? html`<p class="muted">Images appear here.</p>` : null}
      ${running && !partial ? html`<p class="muted">Waiting for the upstream…</p>` : null}
    </section>
  </div>`;
}
