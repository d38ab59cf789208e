-- migrate:up
CREATE TABLE behavioral_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    session_id  uuid        NOT NULL,
    content_id  uuid,
    event_type  text        NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    dwell_ms    integer,
    payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT behavioral_events_pkey PRIMARY KEY (id),
    CONSTRAINT behavioral_events_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT behavioral_events_content_id_fkey FOREIGN KEY (content_id)
        REFERENCES content (id) ON DELETE SET NULL,
    CONSTRAINT behavioral_events_event_type_check CHECK (event_type IN (
        'impression', 'view', 'dwell', 'skip', 'complete', 'answer', 'share',
        'session_start', 'session_end'
    )),
    CONSTRAINT behavioral_events_dwell_ms_check CHECK (dwell_ms >= 0)
);

COMMENT ON TABLE behavioral_events IS 'Append-only stream of learner interactions; content_id is null for session-level events.';

-- Replay one learner's stream in order (also covers the session_id foreign key).
CREATE INDEX behavioral_events_session_id_occurred_at_idx
    ON behavioral_events (session_id, occurred_at);

-- Events of one item (also covers the content_id foreign key).
CREATE INDEX behavioral_events_content_id_idx
    ON behavioral_events (content_id)
    WHERE content_id IS NOT NULL;

-- migrate:down
DROP TABLE behavioral_events;
