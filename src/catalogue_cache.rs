//! A per-instance cache of public catalogue searches, in the manner of Solr's query result
//! cache: it holds, per search (terms, filters, sort, cursor and limit), the ids and scores
//! of the page and the facet counts, and is checked against the catalogue version stored in
//! the database (`catalogue_state`, bumped in the transaction of every listing write and
//! organisation suspension). A request reads that version (one primary-key lookup) and uses
//! an entry only if it was computed at the same version and no listing in its result has
//! expired since. So no instance ever serves a result the catalogue no longer gives, and
//! popular searches - which are the expensive ones, since common words match a large share
//! of the catalogue - are answered from memory until something changes. Only the public
//! catalogue is cached; searches that include other statuses always run.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use chrono::NaiveDateTime;
use lru::LruCache;

use crate::models::listing_search::{Facets, Position};

/// A computed search: the page (ids and positions, one more than the limit when there is
/// a next page) and the facets.
#[derive(Debug, Clone)]
pub struct CachedSearch {
    /// The catalogue version it was computed at.
    pub version: i64,
    /// The earliest expiry among the listings it found: after that the result is stale.
    pub valid_until: Option<NaiveDateTime>,
    pub page: Vec<(String, Position)>,
    pub facets: Facets,
}

/// Recently computed public searches, least recently used evicted first.
pub struct CatalogueCache {
    /// `None`: caching is off.
    entries: Option<Mutex<LruCache<String, CachedSearch>>>,
}

impl CatalogueCache {
    /// A cache of `capacity` searches (`0`: no cache).
    pub fn new(capacity: usize) -> Self {
        CatalogueCache {
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    /// Whether searches are cached at all.
    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The entry for `key` if it is still true at `version` and `now`.
    pub fn get(&self, key: &str, version: i64, now: NaiveDateTime) -> Option<CachedSearch> {
        let mut entries = self.entries.as_ref()?.lock().ok()?;
        let hit = entries.get(key)?;
        if hit.version == version && hit.valid_until.is_none_or(|t| t > now) {
            Some(hit.clone())
        } else {
            entries.pop(key);
            None
        }
    }

    /// Stores a computed search.
    pub fn put(&self, key: String, search: CachedSearch) {
        if let Some(Ok(mut entries)) = self.entries.as_ref().map(Mutex::lock) {
            entries.put(key, search);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(version: i64, valid_until: Option<NaiveDateTime>) -> CachedSearch {
        CachedSearch {
            version,
            valid_until,
            page: vec![("a".into(), Position { score: 4, seq: 1 })],
            facets: Facets {
                total: 1,
                total_is_estimate: false,
                counts_are_estimates: false,
                kind: vec![],
                category: vec![],
                tags: vec![],
            },
        }
    }

    #[test]
    fn entries_hold_only_for_their_version_and_until_the_first_expiry() {
        let cache = CatalogueCache::new(8);
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default();
        let later = t + chrono::Duration::hours(1);
        cache.put("q=a".into(), search(7, Some(later)));
        assert!(cache.get("q=a", 7, t).is_some());
        assert!(cache.get("q=b", 7, t).is_none());
        assert!(cache.get("q=a", 7, later).is_none(), "expired entries go");
        cache.put("q=a".into(), search(7, None));
        assert!(cache.get("q=a", 8, t).is_none(), "a newer catalogue misses");
        assert!(
            cache.get("q=a", 7, t).is_none(),
            "and the stale entry is dropped"
        );
    }
}
