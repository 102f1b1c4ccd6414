-- Actions triggered with `X-Async: true`: the request, then its result, kept until the log
-- retention ends. A row is `pending` (due at `run_after`), `running` (leased until
-- `run_after`: a process that dies leaves it to be taken again), `success` or `failed`.
CREATE TABLE async_actions (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    integration_key TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    action_name TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    max_retries BIGINT NOT NULL,
    result TEXT,
    run_after TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX async_actions_due ON async_actions (status, run_after);
CREATE INDEX async_actions_ended ON async_actions (ended_at);
