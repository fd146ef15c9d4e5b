import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../errors.ts';

/** The console's own files (src/console) and the two libraries it runs on, from node_modules. */
const CONSOLE_DIR = path.resolve(import.meta.dirname, '../console');
const TYPES: Readonly<Record<string, string>> = {
  '.mjs': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function vendorFiles(): Record<string, string> {
  // Resolved like an import, so wherever npm put the packages their ES module builds are found.
  const resolve = (specifier: string): string => fileURLToPath(import.meta.resolve(specifier));
  return { 'vendor/preact.js': resolve('preact'), 'vendor/preact-hooks.js': resolve('preact/hooks'), 'vendor/htm.js': resolve('htm') };
}

/**
 * The web console: `GET /` for a browser (a request that accepts `text/html`; API clients still
 * get the JSON 404 they got before) and its static files under `/console/`. Every file is read
 * once at start, so the console works offline and serving it touches no disk.
 */
export function registerConsoleRoutes(app: FastifyInstance): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  const add = (name: string, file: string): void => {
    files.set(name, { body: readFileSync(file), type: TYPES[path.extname(file)] ?? 'application/octet-stream' });
  };
  for (const [name, file] of Object.entries(vendorFiles())) add(name, file);
  for (const entry of readdirRecursive(CONSOLE_DIR)) add(entry, path.join(CONSOLE_DIR, entry));
  const index = files.get('index.html');
  if (index === undefined) throw new Error(`The console's index.html is missing from ${CONSOLE_DIR}.`);

  app.get('/', async (request, reply) => {
    if (!(request.headers.accept ?? '').includes('text/html')) throw new GatewayError('not_found', 'Unknown request URL: GET /.');
    return reply.type(index.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(index.body);
  });

  app.get<{ Params: { '*': string } }>('/console/*', async (request, reply) => {
    const file = files.get(request.params['*']);
    if (file === undefined) throw new GatewayError('not_found', `Unknown request URL: GET ${request.url.split('?')[0]}.`);
    return reply.type(file.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(file.body);
  });
}

function readdirRecursive(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? readdirRecursive(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}
