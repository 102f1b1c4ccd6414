-- Ferry's core tables. Written once for SQLite and PostgreSQL: only TEXT and BIGINT
-- columns (booleans are 0/1); ids are UUID text; timestamps are fixed-width RFC 3339 UTC text, so they sort.

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    secret_key_hash TEXT NOT NULL UNIQUE,
    webhook_url TEXT,
    webhook_secret_enc TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE integrations (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    unique_key TEXT NOT NULL,
    provider TEXT NOT NULL,
    display_name TEXT NOT NULL,
    client_id TEXT,
    client_secret_enc TEXT,
    webhook_secret_enc TEXT,
    integration_config TEXT NOT NULL,
    forward_webhooks BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (environment_id, unique_key)
);

CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    credentials_enc TEXT NOT NULL,
    connection_config TEXT NOT NULL,
    metadata TEXT NOT NULL,
    end_user TEXT,
    tags TEXT NOT NULL,
    auth_identity TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_fetched_at TEXT,
    UNIQUE (integration_id, connection_id)
);
CREATE INDEX connections_environment ON connections (environment_id, created_at);
CREATE INDEX connections_identity ON connections (integration_id, auth_identity);

CREATE TABLE connect_sessions (
    token_hash TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    end_user TEXT,
    organization TEXT,
    allowed_integrations TEXT,
    tags TEXT NOT NULL,
    reconnect_connection TEXT,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE oauth_sessions (
    state TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    connect_session_hash TEXT,
    connection_id TEXT,
    code_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE operations (
    id TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    integration_key TEXT,
    connection_id TEXT,
    message TEXT,
    exchanges TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX operations_environment ON operations (environment_id, started_at);
