import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MODELS } from '../../src/catalog/index.ts';
import { ModelSpecSchema } from '../../src/catalog/model-schema.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';

/** Built-in rows obey the same schema as operators' entries, and some provider serves each. */
describe('built-in catalog', () => {
  it('has unique ids', () => {
    const ids = MODELS.map((model) => model.id);
    assert.deepEqual(
      ids.filter((id, index) => ids.indexOf(id) !== index),
      [],
    );
  });

  for (const model of MODELS) {
    it(`${model.id} passes the model schema and has a cited price`, () => {
      const parsed = ModelSpecSchema.safeParse(model);
      assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
      assert.ok(model.priceSource.length > 0);
    });

    it(`${model.id} is served by an upstream provider besides local`, () => {
      const servers = [...PROVIDERS.values()].filter((provider) => provider.id !== 'local' && provider.serves(model) === true);
      assert.ok(servers.length > 0, `no provider serves ${model.id}`);
    });
  }
});
