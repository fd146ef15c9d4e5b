import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Catalog, ModelSpec } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import { llmsTxt } from './llms-txt.ts';
import { buildOpenApiDocument } from './openapi-document.ts';

/** Swagger UI's prebuilt files, from the swagger-ui-dist package: served by the gateway, never from a CDN. */
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const ASSETS: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
};

/** Relative links, so the page also works behind a proxy that serves the gateway under a path. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imagegate API reference</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/start.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to swagger.io for a badge.
const START = `window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#reference', deepLinking: true, validatorUrl: null, defaultModelsExpandDepth: 0 });\n`;

/**
 * Everything the page loads comes from this origin; the policy makes a browser refuse anything
 * else (Swagger UI sets inline styles, hence 'unsafe-inline' for styles only).
 */
const PAGE_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * `GET /openapi.json` (the OpenAPI 3.1 document), `GET /docs` (an API reference page rendered
 * from it by Swagger UI, offline) and `GET /llms.txt` (a plain-text summary for agents). No key
 * is needed: they describe the API, not anyone's data.
 */
export interface ApiDocsSettings {
  readonly catalog: Catalog;
  readonly defaultModel: string;
  /** Which providers serve a model here, for the summary's model list. */
  readonly providersFor: (model: ModelSpec) => readonly string[];
}

export function registerApiDocs(app: FastifyInstance, settings: ApiDocsSettings): void {
  // Built on first use, once: converting the schemas takes tens of milliseconds that a gateway
  // nobody asks for its description (and every test gateway) need not spend at start.
  let built: { readonly json: string; readonly summary: string } | null = null;
  const described = (): { readonly json: string; readonly summary: string } => {
    if (built === null) {
      const document = buildOpenApiDocument(settings);
      built = { json: JSON.stringify(document), summary: llmsTxt(document, settings.catalog, settings.providersFor) };
    }
    return built;
  };
  const assets = new Map<string, Promise<Buffer>>();

  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(described().json));
  app.get('/llms.txt', async (_request, reply) => reply.type('text/plain; charset=utf-8').send(described().summary));
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', PAGE_POLICY).send(PAGE));
  app.get('/docs/start.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(START));
  app.get<{ Params: { asset: string } }>('/docs/:asset', async (request, reply) => {
    const asset = Object.hasOwn(ASSETS, request.params.asset) ? ASSETS[request.params.asset] : undefined;
    if (asset === undefined) throw new GatewayError('not_found', 'No such file.');
    // Read once, on first use: most gateways never serve the page.
    let bytes = assets.get(asset.file);
    if (bytes === undefined) {
      bytes = readFile(path.join(SWAGGER_UI_DIR, asset.file));
      assets.set(asset.file, bytes);
      bytes.catch(() => assets.delete(asset.file));
    }
    return reply
      .type(asset.type)
      .header('cache-control', 'public, max-age=86400')
      .send(await bytes);
  });
}
