-- Every type reachable from the columns' types through domains (typbasetype) and arrays
-- (typelem), plus the enum types of the verified schemas; load_catalog walks the chains.
-- Parameters: types (oid[]), schemas (text[]).
WITH RECURSIVE reachable(oid) AS (
    SELECT unnest(%(types)s::oid[])
     UNION
    SELECT t.oid
      FROM pg_catalog.pg_type t
      JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typtype = 'e' AND n.nspname = ANY(%(schemas)s)
     UNION
    SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END
      FROM reachable r
      JOIN pg_catalog.pg_type t ON t.oid = r.oid
     -- "typelem <> 0 AND typlen = -1" is what makes a true array on every version
     -- (typsubscript only exists from PostgreSQL 14; fixed-length types like point
     -- have a typelem too).
     WHERE t.typtype = 'd' OR (t.typelem <> 0 AND t.typlen = -1)
)
SELECT t.oid,
       n.nspname AS schema,
       t.typname AS name,
       t.typtype AS kind,
       t.typbasetype AS base_oid,
       CASE WHEN t.typtype <> 'd' AND t.typelem <> 0 AND t.typlen = -1 THEN t.typelem END
           AS element_oid,
       t.typcategory AS category,
       t.typtypmod AS typmod,
       t.typnotnull AS not_null,
       ARRAY(
           SELECT pg_catalog.pg_get_expr(con.conbin, 0)
             FROM pg_catalog.pg_constraint con
            WHERE con.contypid = t.oid AND con.contype = 'c'
            ORDER BY con.conname
       ) AS checks,
       ARRAY(
           SELECT e.enumlabel
             FROM pg_catalog.pg_enum e
            WHERE e.enumtypid = t.oid
            ORDER BY e.enumsortorder
       ) AS labels
  FROM reachable r
  JOIN pg_catalog.pg_type t ON t.oid = r.oid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
