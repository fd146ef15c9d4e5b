import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../../catalog/index.ts';
import { validateNewPriceGroup, validatePriceGroupChanges } from '../../contract/reseller-settings.ts';
import type { PriceGroupsRepo } from '../../db/price-groups-repo.ts';
import type { PriceGroupRow } from '../../db/schema.ts';
import { GatewayError } from '../../errors.ts';

/**
 * `/admin/v1/price-groups`: a multiplier of the catalog's list prices and/or per-model prices
 * replacing them. A change applies to requests held after it; those held before keep their price.
 */
export function registerPriceGroupRoutes(app: FastifyInstance, deps: { priceGroups: PriceGroupsRepo; catalog: Catalog; now: () => number }): void {
  app.post('/admin/v1/price-groups', async (request, reply) => {
    const { id, settings } = validateNewPriceGroup(request.body, deps.catalog);
    if (!(await deps.priceGroups.create(id, settings, deps.now()))) {
      throw new GatewayError('invalid_value', `Invalid value for 'id': a price group '${id}' exists (change it with PATCH).`, { param: 'id' });
    }
    return reply.code(201).send(describePriceGroup(await found(deps.priceGroups, id)));
  });

  app.get('/admin/v1/price-groups', async () => ({ object: 'list', data: (await deps.priceGroups.list()).map(describePriceGroup) }));

  app.get<{ Params: { id: string } }>('/admin/v1/price-groups/:id', async (request) => describePriceGroup(await found(deps.priceGroups, request.params.id)));

  app.patch<{ Params: { id: string } }>('/admin/v1/price-groups/:id', async (request) => {
    const current = await found(deps.priceGroups, request.params.id);
    const changes = validatePriceGroupChanges(request.body, JSON.parse(current.model_prices) as Record<string, unknown>, deps.catalog);
    const updated = await deps.priceGroups.update(current.id, changes, deps.now());
    return describePriceGroup(updated ?? current);
  });
}

function describePriceGroup(row: PriceGroupRow) {
  return {
    id: row.id,
    object: 'price_group',
    multiplier: Number(row.multiplier),
    model_prices: JSON.parse(row.model_prices) as Record<string, unknown>,
    updated_at: Math.floor(row.updated_at_ms / 1000),
  };
}

async function found(groups: PriceGroupsRepo, id: string): Promise<PriceGroupRow> {
  const row = await groups.get(id);
  if (row === undefined) throw new GatewayError('not_found', `No price group '${id}'.`, { param: 'id' });
  return row;
}
