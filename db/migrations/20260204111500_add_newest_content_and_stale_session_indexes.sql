-- migrate:up
-- Both tables were small when this ran, so a plain CREATE INDEX (which blocks writes
-- while it builds) was acceptable. A new index on a table in use needs CREATE INDEX
-- CONCURRENTLY, alone in a section marked `-- migrate:up transaction:false`.

-- Newest content first.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX content_created_at_idx ON content (created_at);

-- Stale-session cleanup.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX sessions_last_active_at_idx ON sessions (last_active_at);

-- migrate:down
DROP INDEX sessions_last_active_at_idx;
DROP INDEX content_created_at_idx;
