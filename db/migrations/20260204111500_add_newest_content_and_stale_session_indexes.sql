-- migrate:up
-- Newest content first.
CREATE INDEX content_created_at_idx ON content (created_at);

-- Stale-session cleanup.
CREATE INDEX sessions_last_active_at_idx ON sessions (last_active_at);

-- migrate:down
DROP INDEX sessions_last_active_at_idx;
DROP INDEX content_created_at_idx;
