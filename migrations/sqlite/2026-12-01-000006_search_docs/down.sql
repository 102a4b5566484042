DROP TABLE search_terms;
DROP TABLE facet_counts;
DROP TABLE listings_fts;
DROP TABLE search_docs;
CREATE VIRTUAL TABLE listings_fts USING fts5(
    listing_id UNINDEXED,
    title,
    tags,
    body,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO listings_fts (listing_id, title, tags, body)
SELECT id, search_title, search_tags, search_body FROM listings;
