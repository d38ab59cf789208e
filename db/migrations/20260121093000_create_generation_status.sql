-- migrate:up
CREATE TABLE generation_status (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    topic        text        NOT NULL,
    params       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status       text        NOT NULL DEFAULT 'queued',
    attempts     integer     NOT NULL DEFAULT 0,
    error        text,
    content_id   uuid,
    session_id   uuid,
    requested_at timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    CONSTRAINT generation_status_pkey PRIMARY KEY (id),
    CONSTRAINT generation_status_content_id_key UNIQUE (content_id),
    CONSTRAINT generation_status_content_id_fkey FOREIGN KEY (content_id)
        REFERENCES content (id) ON DELETE SET NULL,
    CONSTRAINT generation_status_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE SET NULL,
    CONSTRAINT generation_status_topic_check CHECK (topic <> ''),
    CONSTRAINT generation_status_status_check CHECK (status IN ('queued', 'generating', 'completed', 'failed')),
    CONSTRAINT generation_status_attempts_check CHECK (attempts >= 0),
    CONSTRAINT generation_status_error_check CHECK (status <> 'failed' OR (error IS NOT NULL AND error <> '')),
    CONSTRAINT generation_status_started_at_check CHECK (started_at IS NULL OR started_at >= requested_at),
    CONSTRAINT generation_status_finished_at_check CHECK (
        finished_at IS NULL OR finished_at >= COALESCE(started_at, requested_at)
    )
);

COMMENT ON TABLE generation_status IS 'Asynchronous content generation jobs: requested topic, status, attempts and timing.';

-- The requester's jobs (also covers the session_id foreign key; content_id is
-- covered by generation_status_content_id_key).
CREATE INDEX generation_status_session_id_idx ON generation_status (session_id);

-- The generator's work queue: open jobs, oldest first.
CREATE INDEX generation_status_open_requested_at_idx
    ON generation_status (requested_at)
    WHERE status IN ('queued', 'generating');

-- migrate:down
DROP TABLE generation_status;
