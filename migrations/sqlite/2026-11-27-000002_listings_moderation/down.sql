DROP TABLE listings_fts;
DROP TABLE modlog;
DROP TABLE reports;
DROP TABLE listing_tags;
DROP TABLE listings;
