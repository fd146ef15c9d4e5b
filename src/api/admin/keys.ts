import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../../catalog/index.ts';
import { validateKeySettings } from '../../contract/key-settings.ts';
import type { KeysRepo } from '../../db/keys-repo.ts';
import type { OrganizationsRepo } from '../../db/organizations-repo.ts';
import { GatewayError } from '../../errors.ts';
import { describeKey } from '../../keys/describe-key.ts';

/**
 * `/admin/v1/keys`: create (plaintext shown once), list, show, update and revoke user keys, with
 * their models, budget, rate limits, concurrency, expiry and metadata.
 */
export function registerAdminKeyRoutes(app: FastifyInstance, deps: { keys: KeysRepo; catalog: Catalog; organizations: OrganizationsRepo }): void {
  app.post('/admin/v1/keys', async (request, reply) => {
    const settings = validateKeySettings(request.body, deps.catalog);
    await assertOrganization(deps.organizations, settings.organizationId);
    const created = await deps.keys.create({ ...settings, role: 'user' });
    return reply.code(201).send({ ...describeKey(created.row), key: created.plaintext });
  });

  app.get('/admin/v1/keys', async () => ({ object: 'list', data: (await deps.keys.list('user')).map(describeKey) }));

  app.get<{ Params: { id: string } }>('/admin/v1/keys/:id', async (request) => describeKey(await found(deps.keys, request.params.id)));

  app.patch<{ Params: { id: string } }>('/admin/v1/keys/:id', async (request) => {
    await found(deps.keys, request.params.id);
    const changes = validateKeySettings(request.body, deps.catalog);
    // A key moved keeps its past entries where they were; its next hold goes to the new organisation.
    await assertOrganization(deps.organizations, changes.organizationId);
    const updated = await deps.keys.update(request.params.id, changes);
    return describeKey(updated ?? (await found(deps.keys, request.params.id)));
  });

  app.delete<{ Params: { id: string } }>('/admin/v1/keys/:id', async (request) => {
    await found(deps.keys, request.params.id);
    const revoked = await deps.keys.revoke(request.params.id);
    return describeKey(revoked ?? (await found(deps.keys, request.params.id)));
  });
}

async function found(keys: KeysRepo, id: string) {
  const row = await keys.get(id);
  if (row === undefined || row.role !== 'user') throw new GatewayError('not_found', `No key '${id}'.`, { param: 'id' });
  return row;
}

async function assertOrganization(organizations: OrganizationsRepo, id: string | null | undefined): Promise<void> {
  if (id === undefined || id === null) return;
  if ((await organizations.get(id)) === undefined) {
    throw new GatewayError('invalid_value', `Invalid value for 'organization_id': no organization '${id}'.`, { param: 'organization_id' });
  }
}
