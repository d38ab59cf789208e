-- migrate:up
CREATE TABLE like_engagement (
    session_id uuid        NOT NULL,
    content_id uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT like_engagement_pkey PRIMARY KEY (session_id, content_id),
    CONSTRAINT like_engagement_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT like_engagement_content_id_fkey FOREIGN KEY (content_id)
        REFERENCES content (id) ON DELETE CASCADE
);

COMMENT ON TABLE like_engagement IS 'One like per learner per content item, with the time it was given.';

-- Like count per item (also covers the content_id foreign key).
CREATE INDEX like_engagement_content_id_idx ON like_engagement (content_id);

CREATE TABLE learner_model_state (
    session_id        uuid             NOT NULL,
    topic             text             NOT NULL,
    mastery           double precision NOT NULL DEFAULT 0,
    confidence        double precision NOT NULL DEFAULT 0,
    interaction_count integer          NOT NULL DEFAULT 0,
    state             jsonb            NOT NULL DEFAULT '{}'::jsonb,
    updated_at        timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT learner_model_state_pkey PRIMARY KEY (session_id, topic),
    CONSTRAINT learner_model_state_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT learner_model_state_topic_check CHECK (topic <> ''),
    CONSTRAINT learner_model_state_mastery_check CHECK (mastery BETWEEN 0 AND 1),
    CONSTRAINT learner_model_state_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    CONSTRAINT learner_model_state_interaction_count_check CHECK (interaction_count >= 0)
);

COMMENT ON TABLE learner_model_state IS 'Adaptive learner model per session and topic: mastery, confidence and model state.';

-- migrate:down
DROP TABLE learner_model_state;
DROP TABLE like_engagement;
