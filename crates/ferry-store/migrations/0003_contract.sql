-- Nango's contract and exact filters: integer ids, end users and tags in their own indexed
-- columns, several API keys per environment (and account keys), environment settings,
-- integration scopes and a connection's webhook URL override.

-- Integer ids (Nango's `id`) come from here, inside the inserting transaction.
CREATE TABLE sequences (
    name TEXT PRIMARY KEY,
    last_value BIGINT NOT NULL
);

ALTER TABLE connections ADD COLUMN number BIGINT;
ALTER TABLE connections ADD COLUMN end_user_id TEXT;
ALTER TABLE connections ADD COLUMN end_user_organization_id TEXT;
-- Lower-case connection id and end-user fields, one per line: what `search` matches.
ALTER TABLE connections ADD COLUMN search_text TEXT;
ALTER TABLE connections ADD COLUMN webhook_url_override TEXT;
UPDATE connections SET number = (
    SELECT COUNT(*) FROM connections earlier
    WHERE earlier.created_at < connections.created_at
       OR (earlier.created_at = connections.created_at AND earlier.id <= connections.id)
);
INSERT INTO sequences (name, last_value) SELECT 'connections', COUNT(*) FROM connections;
CREATE UNIQUE INDEX connections_number ON connections (number);
CREATE INDEX connections_end_user ON connections (environment_id, end_user_id);
CREATE INDEX connections_end_user_organization ON connections (environment_id, end_user_organization_id);

-- One row per tag, so `tags[key]=value` filters are exact index lookups.
CREATE TABLE connection_tags (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (connection_id, tag_key)
);
CREATE INDEX connection_tags_lookup ON connection_tags (tag_key, tag_value);

ALTER TABLE environments ADD COLUMN number BIGINT;
ALTER TABLE environments ADD COLUMN is_production BIGINT NOT NULL DEFAULT 0;
ALTER TABLE environments ADD COLUMN webhook_signing_key_enc TEXT;
ALTER TABLE environments ADD COLUMN variables_enc TEXT;
UPDATE environments SET number = (
    SELECT COUNT(*) FROM environments earlier
    WHERE earlier.created_at < environments.created_at
       OR (earlier.created_at = environments.created_at AND earlier.id <= environments.id)
);
INSERT INTO sequences (name, last_value) SELECT 'environments', COUNT(*) FROM environments;
CREATE UNIQUE INDEX environments_number ON environments (number);

-- API keys, stored as SHA-256 hashes: an environment's keys (several, so a key can be rotated
-- with an overlap) and account keys (environment_id NULL) that manage environments.
-- `environments.secret_key_hash` is no longer read; new environments fill it with a random hash.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    environment_id TEXT REFERENCES environments (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE INDEX api_keys_environment ON api_keys (environment_id);
-- The dev environment's key is the one FERRY_SECRET_KEY manages.
INSERT INTO api_keys (id, environment_id, display_name, secret_hash, created_at)
    SELECT id, id, CASE WHEN name = 'dev' THEN 'FERRY_SECRET_KEY' ELSE 'Default' END, secret_key_hash, created_at
    FROM environments;

ALTER TABLE integrations ADD COLUMN scopes TEXT;

-- Work done once in code after the migrations (JSON is read differently by each backend):
-- end users and tags copied out of their JSON columns, integration settings renamed.
CREATE TABLE ferry_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO ferry_meta (name, value) VALUES ('backfill_0003', 'pending');
