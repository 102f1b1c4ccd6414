-- `GET /connections?connectionId=` filters an environment's connections by id across its
-- integrations: an index, so it does not read every connection of the environment.
CREATE INDEX connections_environment_connection ON connections (environment_id, connection_id);
