-- Search documents (src/search/mod.rs): one row per listing with the attributes search
-- filters and counts on, and whether the listing is in the public catalogue right now
-- (`visible`: published, its organisation not suspended, not expired). `seq` orders the
-- catalogue (newest first) and is the rowid of the listing's full-text entry,
-- whose `fielded` column holds the words qualified by their field and whose `attrs`
-- column holds the attributes as tokens, so that filters and relevance tiers are
-- intersections inside the full-text index and pages are read in order, stopping after
-- the page. The application
-- fills both from the listings right after this migration (`search::rebuild`).
DROP TABLE listings_fts;
CREATE TABLE search_docs (
    seq INTEGER PRIMARY KEY NOT NULL,
    listing_id TEXT NOT NULL UNIQUE REFERENCES listings (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    category TEXT NOT NULL,
    industry TEXT NOT NULL,
    region TEXT,
    trial_available BOOLEAN NOT NULL,
    tags TEXT NOT NULL,
    expires_at TIMESTAMP,
    visible BOOLEAN NOT NULL,
    -- The listing's public JSON form, as anyone reading it by id gets it, written with the
    -- document by the listing's one writer: a public page is read from the documents alone.
    public_view TEXT NOT NULL
);
CREATE INDEX search_docs_expiry ON search_docs (visible, expires_at);
-- The whole public catalogue, newest first, is one range of this index.
CREATE INDEX search_docs_visible ON search_docs (visible, seq);
CREATE INDEX search_docs_org ON search_docs (org_id, seq);
CREATE VIRTUAL TABLE listings_fts USING fts5(
    title,
    tags,
    body,
    fielded,
    attrs,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Facet counts of the whole public catalogue (the visible documents), kept in step with
-- them: facets `category`, `kind` and `tag` (the total is the sum over the kinds).
CREATE TABLE facet_counts (
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (facet, value)
);
CREATE INDEX facet_counts_top ON facet_counts (facet, count DESC, value);

-- Every word ever indexed (never removed: a word no listing holds any more matches
-- nothing), so a query's prefix is expanded into the words it stands for and searched as
-- exact words, which both engines stream in order, instead of merging the posting lists
-- of every word with that prefix first. Byte order, so a prefix is a range.
CREATE TABLE search_terms (
    term TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;
