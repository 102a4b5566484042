DROP INDEX invitations_expiry;
DROP INDEX idempotency_records_age;
DROP INDEX sessions_revoked;
DROP INDEX refresh_tokens_expiry;
DROP INDEX proposals_open_expiry;
DROP TABLE jobs;
