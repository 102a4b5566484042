//! Model types and the queries that belong to them; every query takes `&mut DbConnection`
//! so it runs inside or outside a transaction alike.

pub mod api_key;
pub mod idempotency;
pub mod invitation;
pub mod listing;
pub mod listing_search;
pub mod matching;
pub mod membership;
pub mod modlog;
pub mod org;
pub mod rate_limit;
pub mod report;
pub mod session;
pub mod user;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds so both backends read back the same value.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A new time-ordered id (UUIDv7), so ordering by id is ordering by creation.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A stored UTC time as sent to clients.
pub fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

/// Defines a string-backed enum stored as TEXT and sent in `snake_case`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
                 serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The stored and wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the stored spelling; unknown text is a data error.
            pub fn parse(text: &str) -> Result<Self, crate::error::ApiError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(crate::error::ApiError::Internal(format!(
                        "unknown {} value in database: {other}", stringify!($name)
                    ))),
                }
            }
        }
    };
}
pub(crate) use text_enum;
