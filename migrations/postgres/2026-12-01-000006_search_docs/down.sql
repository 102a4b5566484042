DROP TABLE search_terms;
DROP TABLE facet_counts;
DROP TABLE search_docs;
CREATE INDEX listings_fts ON listings USING GIN (
    to_tsvector('simple', search_title || ' ' || search_tags || ' ' || search_body)
);
