-- The constraints of the given tables.
-- Parameters: tables (oid[]), kinds (text[] of contype values).
-- Version-dependent fragments (see catalog.py): enforced (pg_constraint.conenforced is
-- PostgreSQL 18+), nulls_not_distinct (pg_index.indnullsnotdistinct is PostgreSQL 15+).
SELECT con.conrelid AS table_oid,
       con.conname AS name,
       con.contype AS contype,
       ARRAY(
           SELECT a.attname
             FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a
               ON a.attrelid = con.conrelid AND a.attnum = k.attnum
            ORDER BY k.ord
       ) AS columns,
       pg_catalog.pg_get_constraintdef(con.oid) AS definition,
       con.condeferrable AS deferrable,
       con.condeferred AS initially_deferred,
       con.convalidated AS validated,
       {enforced} AS enforced,
       CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_expr(con.conbin, con.conrelid) END
           AS expression,
       -- For a foreign key conindid is the REFERENCED table's index: not this table's.
       CASE WHEN con.contype IN ('p', 'u', 'x') THEN ic.relname END AS index,
       CASE WHEN con.contype IN ('p', 'u', 'x') THEN {nulls_not_distinct} ELSE false END
           AS nulls_not_distinct,
       rn.nspname AS ref_schema,
       rc.relname AS ref_name,
       ARRAY(
           SELECT a.attname
             FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a
               ON a.attrelid = con.confrelid AND a.attnum = k.attnum
            ORDER BY k.ord
       ) AS ref_columns,
       con.confdeltype AS on_delete,
       con.confupdtype AS on_update,
       con.confmatchtype AS match
  FROM pg_catalog.pg_constraint con
  LEFT JOIN pg_catalog.pg_class ic ON ic.oid = con.conindid
  LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = con.conindid
  LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid
  LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE con.conrelid = ANY(%(tables)s::oid[])
   AND con.contype::text = ANY(%(kinds)s)
   -- A foreign key that references a partitioned table gets one hidden copy per
   -- referenced partition ON THE SAME TABLE (conparentid = the user's constraint); their
   -- names are generated and differ between versions. Copies on another table (the
   -- constraints a partition inherits from its parent) are real constraints of that
   -- partition and are kept.
   AND NOT EXISTS (
       SELECT FROM pg_catalog.pg_constraint parent
        WHERE parent.oid = con.conparentid AND parent.conrelid = con.conrelid
   )
