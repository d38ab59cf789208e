\restrict dbmate

-- Dumped from database version 18.6
-- Dumped by pg_dump version 18.6

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: behavioral_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.behavioral_events (
    id bigint NOT NULL,
    session_id uuid NOT NULL,
    content_id uuid,
    event_type text NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    dwell_ms integer,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT behavioral_events_dwell_ms_check CHECK ((dwell_ms >= 0)),
    CONSTRAINT behavioral_events_event_type_check CHECK ((event_type = ANY (ARRAY['impression'::text, 'view'::text, 'dwell'::text, 'skip'::text, 'complete'::text, 'answer'::text, 'share'::text, 'session_start'::text, 'session_end'::text])))
);


--
-- Name: TABLE behavioral_events; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.behavioral_events IS 'Append-only stream of learner interactions; content_id is null for session-level events.';


--
-- Name: behavioral_events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.behavioral_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.behavioral_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: content; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.content (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    topic text NOT NULL,
    title text NOT NULL,
    format text NOT NULL,
    difficulty smallint NOT NULL,
    body jsonb DEFAULT '{}'::jsonb NOT NULL,
    model text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT content_difficulty_check CHECK (((difficulty >= 1) AND (difficulty <= 5))),
    CONSTRAINT content_format_check CHECK ((format = ANY (ARRAY['text'::text, 'quiz'::text, 'video'::text, 'image'::text, 'audio'::text]))),
    CONSTRAINT content_model_check CHECK ((model <> ''::text)),
    CONSTRAINT content_title_check CHECK ((title <> ''::text)),
    CONSTRAINT content_topic_check CHECK ((topic <> ''::text))
);


--
-- Name: TABLE content; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.content IS 'One generated learning item: topic, format, difficulty and the generated body.';


--
-- Name: generation_status; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.generation_status (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    topic text NOT NULL,
    params jsonb DEFAULT '{}'::jsonb NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    error text,
    content_id uuid,
    session_id uuid,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    CONSTRAINT generation_status_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT generation_status_error_check CHECK (((status <> 'failed'::text) OR ((error IS NOT NULL) AND (error <> ''::text)))),
    CONSTRAINT generation_status_finished_at_check CHECK (((finished_at IS NULL) OR (finished_at >= COALESCE(started_at, requested_at)))),
    CONSTRAINT generation_status_started_at_check CHECK (((started_at IS NULL) OR (started_at >= requested_at))),
    CONSTRAINT generation_status_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'generating'::text, 'completed'::text, 'failed'::text]))),
    CONSTRAINT generation_status_topic_check CHECK ((topic <> ''::text))
);


--
-- Name: TABLE generation_status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.generation_status IS 'Asynchronous content generation jobs: requested topic, status, attempts and timing.';


--
-- Name: learner_model_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.learner_model_state (
    session_id uuid NOT NULL,
    topic text NOT NULL,
    mastery double precision DEFAULT 0 NOT NULL,
    confidence double precision DEFAULT 0 NOT NULL,
    interaction_count integer DEFAULT 0 NOT NULL,
    state jsonb DEFAULT '{}'::jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT learner_model_state_confidence_check CHECK (((confidence >= (0)::double precision) AND (confidence <= (1)::double precision))),
    CONSTRAINT learner_model_state_interaction_count_check CHECK ((interaction_count >= 0)),
    CONSTRAINT learner_model_state_mastery_check CHECK (((mastery >= (0)::double precision) AND (mastery <= (1)::double precision))),
    CONSTRAINT learner_model_state_topic_check CHECK ((topic <> ''::text))
);


--
-- Name: TABLE learner_model_state; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.learner_model_state IS 'Adaptive learner model per session and topic: mastery, confidence and model state.';


--
-- Name: like_engagement; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.like_engagement (
    session_id uuid NOT NULL,
    content_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE like_engagement; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.like_engagement IS 'One like per learner per content item, with the time it was given.';


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version character varying NOT NULL
);


--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_active_at timestamp with time zone DEFAULT now() NOT NULL,
    ended_at timestamp with time zone,
    client_info jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT sessions_ended_at_check CHECK (((ended_at IS NULL) OR (ended_at >= created_at))),
    CONSTRAINT sessions_last_active_at_check CHECK ((last_active_at >= created_at))
);


--
-- Name: TABLE sessions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.sessions IS 'Anonymous, long-lived learner identity (one device or browser).';


--
-- Name: user_preferences; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_preferences (
    session_id uuid NOT NULL,
    preferred_topics text[] DEFAULT '{}'::text[] NOT NULL,
    preferred_formats text[] DEFAULT '{}'::text[] NOT NULL,
    preferred_difficulty smallint,
    settings jsonb DEFAULT '{}'::jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_preferences_preferred_difficulty_check CHECK (((preferred_difficulty >= 1) AND (preferred_difficulty <= 5))),
    CONSTRAINT user_preferences_preferred_formats_check CHECK ((preferred_formats <@ ARRAY['text'::text, 'quiz'::text, 'video'::text, 'image'::text, 'audio'::text]))
);


--
-- Name: TABLE user_preferences; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.user_preferences IS 'Explicit preferences of one session (1:1): topics, formats, difficulty and settings.';


--
-- Name: behavioral_events behavioral_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.behavioral_events
    ADD CONSTRAINT behavioral_events_pkey PRIMARY KEY (id);


--
-- Name: content content_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.content
    ADD CONSTRAINT content_pkey PRIMARY KEY (id);


--
-- Name: generation_status generation_status_content_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.generation_status
    ADD CONSTRAINT generation_status_content_id_key UNIQUE (content_id);


--
-- Name: generation_status generation_status_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.generation_status
    ADD CONSTRAINT generation_status_pkey PRIMARY KEY (id);


--
-- Name: learner_model_state learner_model_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.learner_model_state
    ADD CONSTRAINT learner_model_state_pkey PRIMARY KEY (session_id, topic);


--
-- Name: like_engagement like_engagement_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.like_engagement
    ADD CONSTRAINT like_engagement_pkey PRIMARY KEY (session_id, content_id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: user_preferences user_preferences_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_preferences
    ADD CONSTRAINT user_preferences_pkey PRIMARY KEY (session_id);


--
-- Name: behavioral_events_content_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX behavioral_events_content_id_idx ON public.behavioral_events USING btree (content_id) WHERE (content_id IS NOT NULL);


--
-- Name: behavioral_events_session_id_occurred_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX behavioral_events_session_id_occurred_at_idx ON public.behavioral_events USING btree (session_id, occurred_at);


--
-- Name: content_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX content_created_at_idx ON public.content USING btree (created_at);


--
-- Name: content_topic_difficulty_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX content_topic_difficulty_idx ON public.content USING btree (topic, difficulty);


--
-- Name: generation_status_open_requested_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX generation_status_open_requested_at_idx ON public.generation_status USING btree (requested_at) WHERE (status = ANY (ARRAY['queued'::text, 'generating'::text]));


--
-- Name: generation_status_session_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX generation_status_session_id_idx ON public.generation_status USING btree (session_id);


--
-- Name: like_engagement_content_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX like_engagement_content_id_idx ON public.like_engagement USING btree (content_id);


--
-- Name: sessions_last_active_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_last_active_at_idx ON public.sessions USING btree (last_active_at);


--
-- Name: behavioral_events behavioral_events_content_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.behavioral_events
    ADD CONSTRAINT behavioral_events_content_id_fkey FOREIGN KEY (content_id) REFERENCES public.content(id) ON DELETE SET NULL;


--
-- Name: behavioral_events behavioral_events_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.behavioral_events
    ADD CONSTRAINT behavioral_events_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE CASCADE;


--
-- Name: generation_status generation_status_content_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.generation_status
    ADD CONSTRAINT generation_status_content_id_fkey FOREIGN KEY (content_id) REFERENCES public.content(id) ON DELETE SET NULL;


--
-- Name: generation_status generation_status_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.generation_status
    ADD CONSTRAINT generation_status_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE SET NULL;


--
-- Name: learner_model_state learner_model_state_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.learner_model_state
    ADD CONSTRAINT learner_model_state_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE CASCADE;


--
-- Name: like_engagement like_engagement_content_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.like_engagement
    ADD CONSTRAINT like_engagement_content_id_fkey FOREIGN KEY (content_id) REFERENCES public.content(id) ON DELETE CASCADE;


--
-- Name: like_engagement like_engagement_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.like_engagement
    ADD CONSTRAINT like_engagement_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE CASCADE;


--
-- Name: user_preferences user_preferences_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_preferences
    ADD CONSTRAINT user_preferences_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict dbmate


--
-- Dbmate schema migrations
--

INSERT INTO public.schema_migrations (version) VALUES
    ('20260105090000'),
    ('20260107143000'),
    ('20260112101500'),
    ('20260115160000'),
    ('20260121093000'),
    ('20260204111500');
