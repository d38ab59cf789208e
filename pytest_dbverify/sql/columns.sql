-- The live columns of the given tables. Types are resolved by types.sql.
-- Parameters: tables (oid[]).
SELECT a.attrelid AS table_oid,
       a.attname AS name,
       a.attnum AS position,
       a.atttypid AS type_oid,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_sql,
       a.atttypmod AS typmod,
       a.attnotnull AS not_null,
       -- Also the expression of a generated column; attgenerated tells them apart.
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default,
       a.attidentity AS identity,
       a.attgenerated AS generated,
       -- "default" is the database's collation: only another one is worth reporting.
       CASE WHEN co.collname <> 'default' THEN co.collname END AS collation
  FROM pg_catalog.pg_attribute a
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
 WHERE a.attrelid = ANY(%(tables)s::oid[])
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum
