-- The extensions installed in the database (any schema), with the schema they live in.
SELECT e.extname AS name,
       n.nspname AS schema
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
