-- The user triggers of the given tables (not the internal ones behind foreign keys).
-- Parameters: tables (oid[]).
SELECT tg.tgrelid AS table_oid,
       tg.tgname AS name,
       tg.tgtype AS tgtype,
       tg.tgenabled <> 'D' AS enabled,
       pn.nspname AS function_schema,
       p.proname AS function_name,
       pg_catalog.pg_get_triggerdef(tg.oid) AS definition
  FROM pg_catalog.pg_trigger tg
  JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
 WHERE tg.tgrelid = ANY(%(tables)s::oid[])
   AND NOT tg.tgisinternal
