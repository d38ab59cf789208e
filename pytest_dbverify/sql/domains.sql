-- The domains of the verified schemas, used by a column or not (drift compares them all).
-- Parameters: schemas (text[]).
SELECT n.nspname AS schema,
       t.typname AS name,
       pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base_sql,
       t.typnotnull AS not_null,
       t.typdefault AS default,
       ARRAY(
           SELECT con.conname || ' ' || pg_catalog.pg_get_constraintdef(con.oid)
             FROM pg_catalog.pg_constraint con
            WHERE con.contypid = t.oid AND con.contype = 'c'
            ORDER BY con.conname
       ) AS checks
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype = 'd' AND n.nspname = ANY(%(schemas)s)
