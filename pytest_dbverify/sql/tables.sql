-- The tables of the verified schemas: ordinary and partitioned tables, and the partitions
-- of those (a partition may live in another schema than its root).
-- Parameters: schemas (text[]).
SELECT c.oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind AS relkind,
       pn.nspname AS parent_schema,
       pc.relname AS parent_name,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END
           AS partition_bound,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END
           AS partition_key,
       -- The partition key's columns in key order; NULL where a key part is an expression.
       CASE WHEN c.relkind = 'p' THEN ARRAY(
           SELECT a.attname
             FROM pg_catalog.pg_partitioned_table pt
            CROSS JOIN LATERAL unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
            WHERE pt.partrelid = c.oid
            ORDER BY k.ord
       ) END AS partition_columns,
       -- A table's only "_RETURN" rule would make it a view: every other rule is a user's.
       EXISTS (
           SELECT FROM pg_catalog.pg_rewrite r
            WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'
       ) AS has_rules,
       c.relrowsecurity AS row_security,
       -- Each policy as "name USING (...) WITH CHECK (...)": what a refused row missed.
       ARRAY(
           SELECT p.polname
                  || coalesce(' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')', '')
                  || coalesce(' WITH CHECK ('
                              || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')
             FROM pg_catalog.pg_policy p
            WHERE p.polrelid = c.oid
       ) AS policies,
       -- DO INSTEAD rules ON INSERT (ev_type 3): an INSERT there writes elsewhere, or nothing.
       ARRAY(
           SELECT r.rulename::text FROM pg_catalog.pg_rewrite r
            WHERE r.ev_class = c.oid AND r.ev_type = '3' AND r.is_instead
       ) AS insert_rules
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  -- A partition has exactly one parent; plain inheritance children are ordinary tables.
  LEFT JOIN pg_catalog.pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
  LEFT JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
  LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND (
       n.nspname = ANY(%(schemas)s)
       OR (
           c.relispartition
           AND (
               SELECT rn.nspname
                 FROM pg_catalog.pg_class r
                 JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
                WHERE r.oid = pg_catalog.pg_partition_root(c.oid)
           ) = ANY(%(schemas)s)
       )
   )
