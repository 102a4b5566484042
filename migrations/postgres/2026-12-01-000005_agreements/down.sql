DROP INDEX reports_target;
ALTER TABLE reports DROP CONSTRAINT reports_resolution_check;
ALTER TABLE reports ADD CONSTRAINT reports_resolution_check
    CHECK (resolution IN ('dismiss', 'remove_listing', 'suspend_org', 'suspend_user'));
ALTER TABLE reports DROP CONSTRAINT reports_target_type_check;
ALTER TABLE reports ADD CONSTRAINT reports_target_type_check
    CHECK (target_type IN ('listing', 'org', 'user', 'agreement'));
DROP TABLE log_signing_keys;
DROP TABLE log_hashes;
DROP TABLE log_leaves;
DROP FUNCTION log_append_only();
DROP TABLE log_state;
DROP TABLE org_blocks;
DROP TABLE endorsements;
DROP TABLE agreement_items;
DROP TABLE agreements;
DROP TABLE proposal_revisions;
DROP TABLE proposals;
