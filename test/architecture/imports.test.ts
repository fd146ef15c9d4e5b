import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

/*
 * The module rules of docs/ARCHITECTURE.md, checked on the source itself: no import circle
 * anywhere in src/, and arrows point down the module table (a provider never imports the router
 * or the use case, storage never imports the ledger).
 */

const SRC = path.resolve(import.meta.dirname, '../../src');
const IMPORT = /^\s*(?:import|export)\s(?:type\s)?[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Each file's relative imports, resolved to files (type-only imports count: they couple too). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((match) => path.resolve(path.dirname(file), match[1] ?? ''));
    graph.set(file, targets);
  }
  return graph;
}

const relative = (file: string): string => path.relative(SRC, file);

/** Which top-level module a file belongs to (`providers`, `images`, `app.ts` …). */
const moduleOf = (file: string): string => relative(file).split(path.sep)[0] ?? '';

/** Modules each module may not import (DESIGN's table: arrows point down). */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  catalog: ['contract', 'api', 'images', 'routing', 'providers', 'ledger', 'db', 'storage', 'limits', 'http', 'media'],
  contract: ['api', 'images', 'routing', 'providers', 'ledger', 'db', 'storage', 'limits'],
  providers: ['api', 'images', 'routing', 'ledger', 'db', 'storage', 'limits'],
  routing: ['api', 'images', 'ledger', 'db', 'storage'],
  images: ['api'],
  media: ['api', 'images', 'routing', 'providers', 'ledger', 'db', 'storage', 'limits'],
  storage: ['api', 'images', 'routing', 'providers', 'ledger', 'db', 'limits'],
  db: ['api', 'images', 'routing', 'providers', 'storage', 'limits'],
  limits: ['api', 'images', 'routing', 'providers', 'ledger', 'db', 'storage'],
  http: ['api', 'images', 'routing', 'providers', 'ledger', 'db', 'storage', 'limits'],
  ledger: ['api', 'images', 'routing', 'providers', 'storage', 'limits'],
  observe: ['api', 'images', 'routing', 'providers', 'ledger', 'db', 'storage', 'limits', 'http', 'media', 'contract', 'catalog'],
};

describe('source layout', () => {
  it('has no import circle in src/', () => {
    const graph = importGraph();
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map(relative).join(' → '));
        return;
      }
      state.set(file, 'visiting');
      for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(cycles, []);
  });

  it('imports only down the module table', () => {
    const wrong: string[] = [];
    for (const [file, targets] of importGraph()) {
      const from = moduleOf(file);
      for (const target of targets) {
        const to = moduleOf(target);
        if (FORBIDDEN[from]?.includes(to) === true) wrong.push(`${relative(file)} imports ${relative(target)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('has no provider-specific branch outside the catalog and providers (no model family checks)', () => {
    const offenders = sourceFiles(SRC)
      .filter((file) => !['catalog', 'providers'].includes(moduleOf(file)))
      .filter((file) => /model\.family\b|model\.id === '/.test(readFileSync(file, 'utf8')))
      .map(relative);
    assert.deepEqual(offenders, []);
  });
});
