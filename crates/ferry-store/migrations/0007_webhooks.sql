-- Webhooks to the app. An environment's settings (URLs, which events, how long to retry) are
-- JSON text. Deliveries are an outbox: each row is written in the unit of work of the change
-- it reports, then sent by the workers of any process. A row is `pending` (due at
-- `next_attempt_at`, which is also the lease of an attempt in flight), `delivered` or
-- `failed`; `attempt_log` keeps every attempt as JSON.
ALTER TABLE environments ADD COLUMN webhook_settings TEXT;

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    integration_key TEXT,
    connection_id TEXT,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    deadline TEXT NOT NULL,
    attempt_log TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_environment ON webhook_deliveries (environment_id, created_at);
