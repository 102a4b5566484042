ALTER TABLE reports DROP COLUMN org_id;
