DROP INDEX orgs_suspended;
