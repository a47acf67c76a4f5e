"""The DuckDB schema, as an ordered list of migrations. This module alone owns it.

A migration is applied once, in order, when the database is opened by its writer; the
applied versions are recorded in ``schema_version``. Never edit a released migration:
append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "deliveries, jobs, runs, phases, artifacts, model usage, audit log",
        """
        CREATE SEQUENCE IF NOT EXISTS job_id_seq START 1;
        CREATE SEQUENCE IF NOT EXISTS usage_id_seq START 1;

        -- One row per accepted webhook delivery. Both keys are UNIQUE so that dedupe is
        -- an atomic insert, never check-then-insert.
        CREATE TABLE IF NOT EXISTS deliveries (
            delivery_key  TEXT PRIMARY KEY,      -- forge + delivery id
            content_key   TEXT UNIQUE,           -- Event.content_key()
            forge         TEXT NOT NULL,
            delivery_id   TEXT NOT NULL,
            event_name    TEXT NOT NULL,
            repo          TEXT,
            kind          TEXT,
            action        TEXT,
            job_id        BIGINT,
            received_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
        );

        CREATE TABLE IF NOT EXISTS jobs (
            id               BIGINT PRIMARY KEY DEFAULT nextval('job_id_seq'),
            delivery_id      TEXT,
            forge            TEXT NOT NULL,
            event_name       TEXT NOT NULL,
            repo             TEXT,
            subject          TEXT,               -- Event.subject(): one at a time per subject
            payload          BLOB NOT NULL,      -- the verified raw body
            headers          JSON,
            state            TEXT NOT NULL DEFAULT 'queued',  -- queued|running|done|failed|dead
            attempts         INTEGER NOT NULL DEFAULT 0,
            max_attempts     INTEGER NOT NULL DEFAULT 5,
            available_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
            lease_owner      TEXT,
            lease_expires_at TIMESTAMP,
            last_error       TEXT,
            result           JSON,
            created_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
            finished_at      TIMESTAMP
        );
        CREATE INDEX IF NOT EXISTS jobs_state_idx ON jobs(state, available_at);
        CREATE INDEX IF NOT EXISTS jobs_subject_idx ON jobs(subject);

        CREATE TABLE IF NOT EXISTS runs (
            id            TEXT PRIMARY KEY,
            forge         TEXT NOT NULL,
            repo          TEXT NOT NULL,
            issue_number  INTEGER,
            state         TEXT NOT NULL,
            phase         TEXT,
            estimate_usd  DOUBLE,
            started_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
        );

        CREATE TABLE IF NOT EXISTS phases (
            run_id       TEXT NOT NULL,
            name         TEXT NOT NULL,
            role         TEXT,
            state        TEXT NOT NULL,
            gate         TEXT,
            mr_number    INTEGER,
            started_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
            finished_at  TIMESTAMP,
            PRIMARY KEY (run_id, name)
        );

        CREATE TABLE IF NOT EXISTS artifacts (
            run_id      TEXT NOT NULL,
            phase       TEXT NOT NULL,
            path        TEXT NOT NULL,
            kind        TEXT,
            commit_sha  TEXT,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
        );

        CREATE TABLE IF NOT EXISTS model_usage (
            id             BIGINT PRIMARY KEY DEFAULT nextval('usage_id_seq'),
            run_id         TEXT,
            phase          TEXT,
            role           TEXT,
            repo           TEXT,
            issue_number   INTEGER,
            provider       TEXT NOT NULL,
            model          TEXT NOT NULL,
            input_tokens   BIGINT NOT NULL DEFAULT 0,
            output_tokens  BIGINT NOT NULL DEFAULT 0,
            cached_tokens  BIGINT NOT NULL DEFAULT 0,
            cost_usd       DOUBLE NOT NULL DEFAULT 0,
            latency_ms     DOUBLE,
            ok             BOOLEAN NOT NULL DEFAULT TRUE,
            error          TEXT,
            created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
        );

        -- Append-only; each row carries the hash of the previous one.
        CREATE TABLE IF NOT EXISTS audit_log (
            seq        BIGINT PRIMARY KEY,
            "at"       TIMESTAMP NOT NULL,  -- quoted: AT is a keyword since DuckDB 2.0
            actor      TEXT NOT NULL,
            action     TEXT NOT NULL,
            subject    TEXT,
            detail     JSON,
            prev_hash  TEXT NOT NULL,
            hash       TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        "run versions (compare-and-set), branch, MR and engine data; one active run per"
        " issue; MR aliases; artifacts once per (run, phase, path, commit)",
        """
        ALTER TABLE runs ADD COLUMN version INTEGER DEFAULT 1;
        ALTER TABLE runs ADD COLUMN branch TEXT;
        ALTER TABLE runs ADD COLUMN mr_number INTEGER;
        ALTER TABLE runs ADD COLUMN data TEXT;  -- the engine's JSON state
        UPDATE runs SET version = 1 WHERE version IS NULL;
        CREATE INDEX IF NOT EXISTS runs_issue_idx ON runs(forge, repo, issue_number);
        CREATE INDEX IF NOT EXISTS runs_mr_idx ON runs(forge, repo, mr_number);

        -- One non-terminal run per issue, held by the database: DuckDB has no partial
        -- unique index, so a run's row here is inserted in the transaction that creates
        -- it and deleted in the one that ends it. Runs recorded before this migration
        -- are not entered: their states predate the engine's.
        CREATE TABLE IF NOT EXISTS active_runs (
            forge         TEXT NOT NULL,
            repo          TEXT NOT NULL,
            issue_number  INTEGER NOT NULL,
            run_id        TEXT NOT NULL UNIQUE,
            PRIMARY KEY (forge, repo, issue_number)
        );

        -- MR -> issue, so that jobs about a run's MR share the issue's ordering subject.
        CREATE TABLE IF NOT EXISTS mr_aliases (
            forge         TEXT NOT NULL,
            repo          TEXT NOT NULL,
            mr_number     INTEGER NOT NULL,
            issue_number  INTEGER NOT NULL,
            run_id        TEXT,
            created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (forge, repo, mr_number)
        );

        -- Artifacts recorded twice by a retried phase collapse to one (NULL commits
        -- count as equal here, as in the store), and the table is rebuilt with its
        -- unique key: DuckDB cannot index rows deleted in the same transaction.
        CREATE TABLE artifacts_v2 AS SELECT run_id, phase, path, any_value(kind) AS kind,
            commit_sha, min(created_at) AS created_at
            FROM artifacts GROUP BY run_id, phase, path, commit_sha;
        DROP TABLE artifacts;
        CREATE TABLE artifacts (
            run_id      TEXT NOT NULL,
            phase       TEXT NOT NULL,
            path        TEXT NOT NULL,
            kind        TEXT,
            commit_sha  TEXT,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            UNIQUE (run_id, phase, path, commit_sha)
        );
        INSERT INTO artifacts SELECT run_id, phase, path, kind, commit_sha, created_at
            FROM artifacts_v2;
        DROP TABLE artifacts_v2;
        """,
    ),
    (
        3,
        "review feedback per repository (lessons)",
        """
        CREATE SEQUENCE IF NOT EXISTS feedback_id_seq START 1;

        -- /reject texts and review comments, per repository: recurring feedback
        -- becomes a proposed lesson (.agentforge/lessons.md).
        CREATE TABLE IF NOT EXISTS feedback (
            id          BIGINT PRIMARY KEY DEFAULT nextval('feedback_id_seq'),
            repo        TEXT NOT NULL,
            run_id      TEXT NOT NULL,
            phase       TEXT NOT NULL,
            role        TEXT NOT NULL,
            kind        TEXT NOT NULL,           -- reject | review
            text        TEXT NOT NULL,
            terms       TEXT NOT NULL,           -- normalised token set, space-separated
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            UNIQUE (repo, run_id, kind, text)
        );
        CREATE INDEX IF NOT EXISTS feedback_repo_idx ON feedback(repo);
        """,
    ),
    (
        4,
        "job queues and priorities: light command handling vs long role runs",
        """
        -- Which worker lane runs the job (bot.jobs.priorities): 'light' (commands, gate
        -- checks) or 'heavy' (role runs). Jobs stored before this ran everything in
        -- one pool: they count as heavy, the lane that may run anything long.
        ALTER TABLE jobs ADD COLUMN queue TEXT DEFAULT 'heavy';
        -- Lower runs first within a lane: 0 people's commands, 1 new work,
        -- 2 reconciliation. Per-subject arrival order still comes before priority.
        ALTER TABLE jobs ADD COLUMN priority INTEGER DEFAULT 1;
        UPDATE jobs SET queue = 'heavy' WHERE queue IS NULL;
        UPDATE jobs SET priority = 1 WHERE priority IS NULL;
        """,
    ),
    (
        5,
        "rate-limit ledger: runs started and refusal replies, per repository and actor",
        """
        -- One row per rate-limited thing (bot.limits_store): 'run_start' (a new run),
        -- 'refusal_reply' (an answer to a refused command). Kept here, not in memory,
        -- so a restart does not reset a limit; old rows are pruned as they age out.
        CREATE TABLE IF NOT EXISTS limit_events (
            kind     TEXT NOT NULL,
            forge    TEXT NOT NULL,
            repo     TEXT NOT NULL,
            actor    TEXT NOT NULL,        -- lower-cased login
            subject  TEXT NOT NULL,        -- issue:<n> | mr:<n>
            happened_at TIMESTAMP NOT NULL  -- UTC
        );
        CREATE INDEX IF NOT EXISTS limit_events_idx ON limit_events(kind, forge, repo, happened_at);
        """,
    ),
    (
        6,
        "job payloads in their own table, keyed by job id",
        """
        -- A job's state lives in an indexed column, and DuckDB updates such a row as
        -- delete + insert: with the payload in the row, every lease, renewal and
        -- finish rewrote ~12 KB. jobs.payload stays (empty) for older readers.
        CREATE TABLE IF NOT EXISTS job_payloads (
            job_id   BIGINT PRIMARY KEY,
            payload  BLOB NOT NULL
        );
        INSERT INTO job_payloads SELECT id, payload FROM jobs ON CONFLICT DO NOTHING;
        UPDATE jobs SET payload = ''::BLOB WHERE octet_length(payload) > 0;
        """,
    ),
]
"""(version, description, SQL). Append only."""
