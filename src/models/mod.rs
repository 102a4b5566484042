//! Model types and the queries that belong to them; every query takes `&mut DbConnection`
//! so it runs inside or outside a transaction alike.

pub mod agreement;
pub mod api_key;
pub mod block;
pub mod catalogue_state;
pub mod effects;
pub mod endorsement;
pub mod event;
pub mod idempotency;
pub mod invitation;
pub mod listing;
pub mod listing_search;
pub mod matching;
pub mod membership;
pub mod modlog;
pub mod org;
pub mod party;
pub mod proposal;
pub mod rate_limit;
pub mod reciprocity;
pub mod report;
pub mod session;
pub mod tag;
pub mod user;
pub mod webhook;

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

/// Defines a string-backed enum, sent in `snake_case` and stored as TEXT. It is a diesel SQL
/// type on both backends (`ToSql`/`FromSql<Text>`, like crates.io's `pg_enum!`), so rows hold
/// the enum itself and a stored value outside the list fails when the row is read, not while
/// a response is built.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
                 serde::Serialize, serde::Deserialize, utoipa::ToSchema,
                 diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value with this spelling, if any.
            pub fn from_text(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    DB,
                >>::from_sql(bytes)?;
                $name::from_text(&text).ok_or_else(|| {
                    format!("unknown {} value in database: {text:?}", stringify!($name)).into()
                })
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use super::listing::ListingStatus;
    use super::membership::OrgRole;

    #[test]
    fn every_spelling_round_trips() {
        for status in ListingStatus::ALL {
            assert_eq!(ListingStatus::from_text(status.as_str()), Some(*status));
        }
        assert_eq!(ListingStatus::from_text("Published"), None);
    }

    #[test]
    fn stored_values_are_read_as_enums_and_unknown_ones_fail_at_the_row() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let role: OrgRole = diesel::select(diesel::dsl::sql::<Text>("'admin'"))
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(role, OrgRole::Admin);
        let written: String = diesel::select(OrgRole::Owner.into_sql::<Text>())
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(written, "owner");
        let bad = diesel::select(diesel::dsl::sql::<Text>("'superuser'"))
            .get_result::<OrgRole>(&mut conn)
            .unwrap_err();
        assert!(
            format!("{bad:?}").contains("unknown OrgRole value in database"),
            "{bad:?}"
        );
    }
}
