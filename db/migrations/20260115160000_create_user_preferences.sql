-- migrate:up
CREATE TABLE user_preferences (
    session_id           uuid        NOT NULL,
    preferred_topics     text[]      NOT NULL DEFAULT '{}'::text[],
    preferred_formats    text[]      NOT NULL DEFAULT '{}'::text[],
    preferred_difficulty smallint,
    settings             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_preferences_pkey PRIMARY KEY (session_id),
    CONSTRAINT user_preferences_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT user_preferences_preferred_formats_check CHECK (
        preferred_formats <@ ARRAY['text', 'quiz', 'video', 'image', 'audio']::text[]
    ),
    CONSTRAINT user_preferences_preferred_difficulty_check CHECK (preferred_difficulty BETWEEN 1 AND 5)
);

COMMENT ON TABLE user_preferences IS 'Explicit preferences of one session (1:1): topics, formats, difficulty and settings.';

-- migrate:down
DROP TABLE user_preferences;
