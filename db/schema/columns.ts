import { sql } from 'drizzle-orm';
import { timestamp } from 'drizzle-orm/pg-core';

// Millisecond precision, as JavaScript dates have: keyset cursors then compare exactly.
export const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });
/** A check constraint's list of allowed values. */
export const inList = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));
