-- Syncs: one schedule per (connection, sync, variant), and the records the runs keep.
--
-- A schedule is due at `next_run_at` unless paused. A run in progress holds it until
-- `running_until` (renewed as batches are saved); a process that dies leaves the lease to
-- run out, and the next run resumes from `checkpoint`. `runs` numbers the runs: each record
-- keeps the number of the last run that saw it (`seen_run`), and a run of a full sync that
-- ends well marks deleted every record seen only before `deletes_from` (set by a run that
-- finds it unset and kept until a run ends well, so a run resumed after a failure still
-- deletes right).
CREATE TABLE sync_schedules (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    connection_row TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    integration_key TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    sync_name TEXT NOT NULL,
    variant TEXT NOT NULL,
    paused BIGINT NOT NULL,
    frequency TEXT,
    next_run_at TEXT NOT NULL,
    full_run BIGINT NOT NULL,
    running_until TEXT,
    runs BIGINT NOT NULL,
    checkpoint TEXT,
    deletes_from BIGINT,
    last_sync_date TEXT,
    last_full_at TEXT,
    last_status TEXT,
    last_result TEXT,
    last_error TEXT,
    finished_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (connection_row, sync_name, variant)
);
CREATE INDEX sync_schedules_due ON sync_schedules (paused, next_run_at);
CREATE INDEX sync_schedules_environment ON sync_schedules (environment_id, integration_key, connection_id);

-- A record per (connection, model, id): `model` is `Model` or `Model::variant`. `data_hash`
-- (SHA-256 of the stored JSON) tells a changed record from an unchanged one, which is not
-- rewritten; `updated_at` moves only on a change, and `(updated_at, external_id)` is the
-- order and the cursor of `GET /records`.
CREATE TABLE records (
    connection_row TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    external_id TEXT NOT NULL,
    data TEXT NOT NULL,
    data_hash TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    pruned_at TEXT,
    last_action TEXT NOT NULL,
    seen_run BIGINT NOT NULL,
    sync_name TEXT NOT NULL,
    PRIMARY KEY (connection_row, model, external_id)
);
CREATE INDEX records_by_change ON records (connection_row, model, updated_at, external_id);
