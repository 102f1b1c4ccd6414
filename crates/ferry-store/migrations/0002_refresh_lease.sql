-- A lease on refreshing a connection's token, so processes sharing one database never refresh
-- the same token at once (Notion rotates refresh tokens: the loser of a race would be locked out).
ALTER TABLE connections ADD COLUMN refresh_lease_until TEXT;
