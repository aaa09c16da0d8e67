import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { tz } from './columns.ts';
import { users } from './users.ts';

// Saved flows and their immutable versions.

/**
 * Saved flows: a name and an owner; the steps live in versions. A version is immutable; once a call
 * used it (`used_at`), it cannot be deleted, and archiving the flow only stops new calls using it.
 */
export const flows = pgTable(
  'flows',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id),
    name: text('name').notNull(),
    description: text('description'),
    latestVersion: integer('latest_version').notNull().default(1),
    archivedAt: tz('archived_at'),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('flows_owner_created_idx').on(t.ownerId, t.createdAt.desc(), t.id.desc()),
    index('flows_created_idx').on(t.createdAt.desc(), t.id.desc()),
    check('flows_name_length', sql`char_length(${t.name}) between 1 and 100`),
  ],
);

export const flowVersions = pgTable(
  'flow_versions',
  {
    flowId: uuid('flow_id')
      .notNull()
      .references(() => flows.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    steps: jsonb('steps').$type<unknown[]>().notNull(),
    createdBy: uuid('created_by'),
    createdAt: tz('created_at').notNull().defaultNow(),
    // Set when the first call used this version: from then on it is kept as it is.
    usedAt: tz('used_at'),
  },
  (t) => [
    primaryKey({ columns: [t.flowId, t.version] }),
    check('flow_versions_version_positive', sql`${t.version} >= 1`),
  ],
);
