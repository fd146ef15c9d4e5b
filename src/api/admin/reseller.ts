import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Catalog } from '../../catalog/index.ts';
import type { OrganizationsRepo } from '../../db/organizations-repo.ts';
import type { PriceGroupsRepo } from '../../db/price-groups-repo.ts';
import type { Database } from '../../db/schema.ts';
import type { Ledger } from '../../ledger/ledger.ts';
import { registerOrganizationRoutes } from './organizations.ts';
import { registerPriceGroupRoutes } from './price-groups.ts';
import { registerReportRoutes } from './reports.ts';

/** The reseller's admin routes (organisations, credits, price groups, margin, audit), registered together. */
export function registerResellerRoutes(
  app: FastifyInstance,
  deps: {
    readonly db: Kysely<Database>;
    readonly catalog: Catalog;
    readonly organizations: OrganizationsRepo;
    readonly priceGroups: PriceGroupsRepo;
    readonly ledger: Ledger;
    readonly now: () => number;
    readonly images: { readonly retentionSeconds: number };
  },
): void {
  registerOrganizationRoutes(app, deps);
  registerPriceGroupRoutes(app, deps);
  registerReportRoutes(app, { db: deps.db, now: deps.now, retentionSeconds: deps.images.retentionSeconds });
}
