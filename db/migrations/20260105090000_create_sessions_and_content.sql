-- migrate:up
CREATE TABLE sessions (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_active_at timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz,
    client_info    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_last_active_at_check CHECK (last_active_at >= created_at),
    CONSTRAINT sessions_ended_at_check CHECK (ended_at IS NULL OR ended_at >= created_at)
);

COMMENT ON TABLE sessions IS 'Anonymous, long-lived learner identity (one device or browser).';

CREATE TABLE content (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    topic      text        NOT NULL,
    title      text        NOT NULL,
    format     text        NOT NULL,
    difficulty smallint    NOT NULL,
    body       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    model      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT content_pkey PRIMARY KEY (id),
    CONSTRAINT content_topic_check CHECK (topic <> ''),
    CONSTRAINT content_title_check CHECK (title <> ''),
    CONSTRAINT content_format_check CHECK (format IN ('text', 'quiz', 'video', 'image', 'audio')),
    CONSTRAINT content_difficulty_check CHECK (difficulty BETWEEN 1 AND 5),
    CONSTRAINT content_model_check CHECK (model <> '')
);

COMMENT ON TABLE content IS 'One generated learning item: topic, format, difficulty and the generated body.';

-- Feed: next items for a topic near a difficulty.
CREATE INDEX content_topic_difficulty_idx ON content (topic, difficulty);

-- migrate:down
DROP TABLE content;
DROP TABLE sessions;
