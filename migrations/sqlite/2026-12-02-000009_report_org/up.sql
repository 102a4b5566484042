-- The organisation a report was filed for (optional): it is told when the report is
-- resolved (`report.resolved` in its event feed).
ALTER TABLE reports ADD COLUMN org_id TEXT REFERENCES orgs (id) ON DELETE SET NULL;
