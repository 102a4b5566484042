-- Public searches and matching exclude suspended organisations with
-- `org_id NOT IN (SELECT id FROM orgs WHERE status = 'suspended')`; this partial index
-- keeps that subquery a lookup in a (normally empty) index instead of a scan of all orgs.
CREATE INDEX orgs_suspended ON orgs (id) WHERE status = 'suspended';
