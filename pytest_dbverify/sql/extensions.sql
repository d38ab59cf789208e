-- The extensions installed in the database (any schema).
SELECT e.extname AS name
  FROM pg_catalog.pg_extension e
