import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { validateCredit, validateNewOrganization, validateOrganizationChanges } from '../../contract/reseller-settings.ts';
import { parseUsageRange } from '../../contract/usage-query.ts';
import type { OrganizationsRepo } from '../../db/organizations-repo.ts';
import type { PriceGroupsRepo } from '../../db/price-groups-repo.ts';
import type { Database, OrganizationRow } from '../../db/schema.ts';
import { GatewayError } from '../../errors.ts';
import type { Ledger } from '../../ledger/ledger.ts';
import { usageByDay } from '../../ledger/usage-report.ts';

interface OrganizationRouteDeps {
  readonly db: Kysely<Database>;
  readonly organizations: OrganizationsRepo;
  readonly priceGroups: PriceGroupsRepo;
  readonly ledger: Ledger;
  readonly now: () => number;
}

/**
 * `/admin/v1/organizations`: customer accounts whose keys share a budget, a prepaid balance and a
 * price group; `…/{id}/credits` tops the balance up (or corrects it), `…/{id}/usage` reports it.
 */
export function registerOrganizationRoutes(app: FastifyInstance, deps: OrganizationRouteDeps): void {
  app.post('/admin/v1/organizations', async (request, reply) => {
    const settings = validateNewOrganization(request.body);
    await assertPriceGroup(deps.priceGroups, settings.priceGroup);
    return reply.code(201).send(describeOrganization(await deps.organizations.create(settings, deps.now())));
  });

  app.get('/admin/v1/organizations', async () => ({ object: 'list', data: (await deps.organizations.list()).map(describeOrganization) }));

  app.get<{ Params: { id: string } }>('/admin/v1/organizations/:id', async (request) =>
    describeOrganization(await found(deps.organizations, request.params.id)),
  );

  app.patch<{ Params: { id: string } }>('/admin/v1/organizations/:id', async (request) => {
    await found(deps.organizations, request.params.id);
    const changes = validateOrganizationChanges(request.body);
    if (changes.priceGroup !== undefined) await assertPriceGroup(deps.priceGroups, changes.priceGroup);
    const updated = await deps.organizations.update(request.params.id, changes, deps.now());
    return describeOrganization(updated ?? (await found(deps.organizations, request.params.id)));
  });

  app.delete<{ Params: { id: string } }>('/admin/v1/organizations/:id', async (request) => {
    const organization = await found(deps.organizations, request.params.id);
    // Its ledger stays; its keys are detached and go on as keys without an organisation.
    await deps.organizations.delete(organization.id, deps.now());
    return { id: organization.id, object: 'organization', deleted: true };
  });

  app.post<{ Params: { id: string } }>('/admin/v1/organizations/:id/credits', async (request, reply) => {
    await found(deps.organizations, request.params.id);
    const credit = validateCredit(request.body);
    const written = await deps.ledger.credit(request.params.id, credit.amountMicroUsd, credit.reference);
    return reply.code(201).send({
      id: written.id,
      object: 'organization.credit',
      organization_id: written.organizationId,
      amount_usd: written.amountMicroUsd / 1_000_000,
      reference: written.reference,
      created_at: Math.floor(written.createdAtMs / 1000),
      balance_usd: written.balanceMicroUsd / 1_000_000,
    });
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/admin/v1/organizations/:id/usage', async (request) => {
    const organization = await found(deps.organizations, request.params.id);
    const range = parseUsageRange(request.query, deps.now());
    const report = await usageByDay(deps.db, { organizationId: organization.id, ...range });
    return {
      object: 'usage',
      organization_id: organization.id,
      from: Math.floor(range.fromMs / 1000),
      to: Math.floor(range.toMs / 1000),
      ...money(organization),
      ...report,
    };
  });
}

/** An organisation as the admin API shows it: money in USD, the balance derived from the ledger's totals. */
export function describeOrganization(row: OrganizationRow) {
  return {
    id: row.id,
    object: 'organization',
    name: row.name,
    price_group: row.price_group,
    created_at: Math.floor(row.created_at_ms / 1000),
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, string>),
    ...money(row),
  };
}

function money(row: OrganizationRow) {
  return {
    budget_usd: row.budget_micro_usd === null ? null : row.budget_micro_usd / 1_000_000,
    committed_usd: row.committed_micro_usd / 1_000_000,
    credited_usd: row.credited_micro_usd / 1_000_000,
    balance_usd: (row.credited_micro_usd - row.committed_micro_usd) / 1_000_000,
  };
}

async function found(organizations: OrganizationsRepo, id: string): Promise<OrganizationRow> {
  const row = await organizations.get(id);
  if (row === undefined) throw new GatewayError('not_found', `No organization '${id}'.`, { param: 'id' });
  return row;
}

async function assertPriceGroup(groups: PriceGroupsRepo, id: string): Promise<void> {
  if ((await groups.get(id)) === undefined)
    throw new GatewayError('invalid_value', `Invalid value for 'price_group': no price group '${id}'.`, { param: 'price_group' });
}
