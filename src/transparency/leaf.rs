//! A log leaf: what one agreement event publishes, and its exact hashed text. The text is
//! the RFC 8785 (JCS) canonical JSON of exactly the keys `docs/TRANSPARENCY.md` lists, so an
//! independent verifier can rebuild it byte for byte.

use base64::prelude::*;
use chrono::{NaiveDateTime, SecondsFormat};
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::models::text_enum;

text_enum! {
    /// The agreement event a leaf records.
    LogEvent {
        /// Both parties agreed: the agreement exists.
        #[serde(rename = "agreement.accepted")]
        Accepted => "agreement.accepted",
        /// Both parties confirmed the agreement as fulfilled.
        #[serde(rename = "agreement.completed")]
        Completed => "agreement.completed",
        /// A party cancelled the agreement.
        #[serde(rename = "agreement.cancelled")]
        Cancelled => "agreement.cancelled",
    }
}

/// One agreement event as it is published in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The agreement the event belongs to.
    pub agreement_id: String,
    /// What happened.
    pub event: LogEvent,
    /// When it was logged (UTC, truncated to microseconds like every stored time).
    pub logged_at: NaiveDateTime,
    /// The organisation that opened the proposal.
    pub from_org_id: String,
    /// The organisation it was addressed to.
    pub to_org_id: String,
    /// `exchange` or `trial`.
    pub kind: String,
    /// `base64(SHA-256(salt ‖ JCS(terms)))`, see [`terms_commitment`].
    pub terms_commitment: String,
    /// The terms themselves, `None` when the agreement is confidential.
    pub terms: Option<Value>,
}

impl Leaf {
    /// The leaf input: the exact text that is hashed (RFC 8785 canonical JSON). `terms` is
    /// absent, not `null`, for a confidential agreement.
    pub fn input(&self) -> String {
        let mut object = Map::new();
        object.insert("agreement_id".into(), self.agreement_id.clone().into());
        object.insert("event".into(), self.event.as_str().into());
        object.insert("logged_at".into(), rfc3339(self.logged_at).into());
        object.insert("from_org_id".into(), self.from_org_id.clone().into());
        object.insert("to_org_id".into(), self.to_org_id.clone().into());
        object.insert("kind".into(), self.kind.clone().into());
        object.insert(
            "terms_commitment".into(),
            self.terms_commitment.clone().into(),
        );
        if let Some(terms) = &self.terms {
            object.insert("terms".into(), terms.clone());
        }
        canonical_json(&Value::Object(object))
    }
}

/// A stored time as it appears in a leaf: RFC 3339 UTC with microseconds and `Z`
/// (`2026-12-01T16:50:00.123456Z`), so every leaf of a log has one fixed width of time.
pub fn rfc3339(time: NaiveDateTime) -> String {
    time.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The RFC 8785 (JCS) canonical form of a JSON value.
pub fn canonical_json(value: &Value) -> String {
    // JCS refuses only non-finite numbers and duplicate keys; a `serde_json::Value` holds
    // neither (its numbers are finite and its object keys unique), so this cannot fail.
    match serde_json_canonicalizer::to_string(value) {
        Ok(text) => text,
        Err(e) => unreachable!("JCS of a serde_json::Value failed: {e}"),
    }
}

/// 32 fresh bytes from the operating system's random source, the salt of a terms commitment.
pub fn new_salt() -> [u8; 32] {
    let mut salt = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

/// `base64(SHA-256(salt ‖ JCS(terms)))`: binds the log to the terms without revealing them;
/// the salt stops anyone guessing confidential terms by hashing likely ones.
pub fn terms_commitment(salt: &[u8], terms: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(canonical_json(terms).as_bytes());
    BASE64_STANDARD.encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use crate::transparency::leaf::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn leaf(terms: Option<Value>) -> Leaf {
        Leaf {
            agreement_id: "0193a8f0-0000-7000-8000-000000000001".into(),
            event: LogEvent::Accepted,
            logged_at: NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_micro_opt(16, 50, 0, 123_456)
                .unwrap(),
            from_org_id: "0193a8f0-0000-7000-8000-00000000000a".into(),
            to_org_id: "0193a8f0-0000-7000-8000-00000000000b".into(),
            kind: "exchange".into(),
            terms_commitment: "c29tZS1jb21taXRtZW50".into(),
            terms,
        }
    }

    #[test]
    fn the_input_is_canonical_json_of_exactly_the_design_keys() {
        let terms = json!({"to_gives": [{"description": "Audit", "category": "expertise"}],
                           "from_gives": [{"quantity": 10, "unit": "hours",
                                           "description": "Schulung", "category": "support"}]});
        assert_eq!(
            leaf(Some(terms)).input(),
            r#"{"agreement_id":"0193a8f0-0000-7000-8000-000000000001","event":"agreement.accepted","from_org_id":"0193a8f0-0000-7000-8000-00000000000a","kind":"exchange","logged_at":"2026-12-01T16:50:00.123456Z","terms":{"from_gives":[{"category":"support","description":"Schulung","quantity":10,"unit":"hours"}],"to_gives":[{"category":"expertise","description":"Audit"}]},"terms_commitment":"c29tZS1jb21taXRtZW50","to_org_id":"0193a8f0-0000-7000-8000-00000000000b"}"#
        );
        let confidential = leaf(None).input();
        assert!(!confidential.contains("\"terms\""), "{confidential}");
        let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(&confidential)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "agreement_id",
                "event",
                "from_org_id",
                "kind",
                "logged_at",
                "terms_commitment",
                "to_org_id"
            ]
        );
    }

    #[test]
    fn whole_seconds_keep_six_digits() {
        let mut l = leaf(None);
        l.logged_at = NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        assert!(l
            .input()
            .contains(r#""logged_at":"2026-01-02T03:04:05.000000Z""#));
    }

    #[test]
    fn events_have_their_wire_names() {
        for (event, text) in [
            (LogEvent::Accepted, "agreement.accepted"),
            (LogEvent::Completed, "agreement.completed"),
            (LogEvent::Cancelled, "agreement.cancelled"),
        ] {
            assert_eq!(event.as_str(), text);
            assert_eq!(serde_json::to_value(event).unwrap(), json!(text));
            assert_eq!(
                serde_json::from_value::<LogEvent>(json!(text)).unwrap(),
                event
            );
        }
    }

    #[test]
    fn jcs_sorts_keys_by_utf16_and_formats_numbers_like_javascript() {
        // RFC 8785 §3.2.3 and §3.2.2.3 examples.
        assert_eq!(
            canonical_json(&json!({"\u{20ac}": 1, "\r": 2, "1": 3, "\u{1f600}": 4, "\u{fb33}": 5})),
            "{\"\\r\":2,\"1\":3,\"\u{20ac}\":1,\"\u{1f600}\":4,\"\u{fb33}\":5}"
        );
        assert_eq!(
            canonical_json(&json!([1.0, 1e21, 0.000001, -0.0])),
            "[1,1e+21,0.000001,0]"
        );
    }

    #[test]
    fn the_commitment_hashes_salt_then_canonical_terms() {
        let salt = [7u8; 32];
        let terms = json!({"b": 1, "a": [true]});
        let mut hasher = Sha256::new();
        hasher.update(salt);
        hasher.update(br#"{"a":[true],"b":1}"#);
        assert_eq!(
            terms_commitment(&salt, &terms),
            BASE64_STANDARD.encode(hasher.finalize())
        );
        assert_ne!(
            terms_commitment(&[8u8; 32], &terms),
            terms_commitment(&salt, &terms)
        );
        assert_ne!(new_salt(), new_salt());
    }

    /// The worked example of docs/TRANSPARENCY.md, so the page cannot drift from the code.
    #[test]
    fn the_documented_example_holds() {
        let terms = json!({"from_gives": [{"category": "expertise", "description": "Front-desk training",
                                           "quantity": 8, "unit": "hours"}],
                           "to_gives": [{"category": "resource", "description": "Seminar room for two days"}]});
        let salt: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            BASE64_STANDARD.encode(&salt),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        );
        let commitment = terms_commitment(&salt, &terms);
        assert_eq!(commitment, "YD9J5AUrcImNmCODE4KzzRfUMf5WBMiWZHCw4zKMx3Y=");
        let mut leaf = Leaf {
            agreement_id: "019ad6f2-7c3e-7a41-9f0e-5b8c2d4e6a10".into(),
            event: LogEvent::Accepted,
            logged_at: NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_micro_opt(16, 50, 0, 123_456)
                .unwrap(),
            from_org_id: "019ad6e1-0b2a-7c55-8e31-2f4a6b8c0d12".into(),
            to_org_id: "019ad6e3-4d5e-7f60-9a71-3b5c7d9e1f34".into(),
            kind: "exchange".into(),
            terms_commitment: commitment,
            terms: Some(terms),
        };
        let input = leaf.input();
        assert_eq!(
            input,
            r#"{"agreement_id":"019ad6f2-7c3e-7a41-9f0e-5b8c2d4e6a10","event":"agreement.accepted","from_org_id":"019ad6e1-0b2a-7c55-8e31-2f4a6b8c0d12","kind":"exchange","logged_at":"2026-12-01T16:50:00.123456Z","terms":{"from_gives":[{"category":"expertise","description":"Front-desk training","quantity":8,"unit":"hours"}],"to_gives":[{"category":"resource","description":"Seminar room for two days"}]},"terms_commitment":"YD9J5AUrcImNmCODE4KzzRfUMf5WBMiWZHCw4zKMx3Y=","to_org_id":"019ad6e3-4d5e-7f60-9a71-3b5c7d9e1f34"}"#
        );
        assert_eq!(
            tlog_tiles::record_hash(input.as_bytes()).to_string(),
            "E8p/YsHrVpWege7Ih0N+FA+Tryl0WisMibPuMtcyC50="
        );
        leaf.terms = None;
        assert_eq!(
            tlog_tiles::record_hash(leaf.input().as_bytes()).to_string(),
            "jDZEKvA5YF4B/Pts74MbTVg89g9AV4WxAm3bQM6o8dI="
        );
    }
}
