-- The indexes of the given tables.
-- Parameters: tables (oid[]).
-- Version-dependent fragment (see catalog.py): nulls_not_distinct
-- (pg_index.indnullsnotdistinct is PostgreSQL 15+).
SELECT i.indrelid AS table_oid,
       ic.relname AS name,
       -- One entry per key and INCLUDE column: attname, or NULL for an expression.
       ARRAY(
           SELECT a.attname
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             LEFT JOIN pg_catalog.pg_attribute a
               ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            ORDER BY k.ord
       ) AS columns,
       -- One entry per key column: pg_get_indexdef(index, k, true) is the key's own text.
       ARRAY(
           SELECT CASE WHEN i.indkey[k.ord - 1] = 0
                       THEN pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::int, true) END
             FROM generate_series(1, i.indnkeyatts) AS k(ord)
            ORDER BY k.ord
       ) AS expressions,
       i.indnkeyatts AS key_count,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
       am.amname AS method,
       i.indisunique AS unique,
       i.indisprimary AS primary,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS predicate,
       i.indisvalid AS valid,
       i.indisready AS ready,
       {nulls_not_distinct} AS nulls_not_distinct,
       con.conname AS constraint
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_am am ON am.oid = ic.relam
  -- conindid of a foreign key points at the referenced table's index: match on the
  -- indexed table and the kinds of constraint an index can back.
  LEFT JOIN pg_catalog.pg_constraint con
    ON con.conindid = i.indexrelid
   AND con.conrelid = i.indrelid
   AND con.contype IN ('p', 'u', 'x')
 WHERE i.indrelid = ANY(%(tables)s::oid[])
