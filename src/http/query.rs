//! Query parameters, decoded as actix-web's `web::Query` decodes them (an empty value of
//! a number is refused, not taken as absent) but with a 400 that names the parameter and
//! says what it must be, in this API's words.

use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::wording;
use crate::error::ApiError;

/// The query string of a request, decoded into `T`.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The decoded parameters.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Decodes a query string into `T`, or the 400 naming the parameter that does not fit.
pub fn decode<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let form = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(form).map_err(|e| {
        let mut name = e.path().to_string();
        let message = e.into_inner().to_string();
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            // A missing parameter has no path yet: serde names it in the message.
            name = missing.to_owned();
        }
        let words = wording::describe(&message);
        if name.is_empty() || name == "." {
            ApiError::BadRequest(format!("query parameter {words}"))
        } else {
            ApiError::BadRequest(format!("query parameter `{name}` {words}"))
        }
    })
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(decode(req.query_string()).map(Query))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use crate::http::query::decode;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Params {
        leaf_index: u64,
        limit: Option<i64>,
        cursor: Option<String>,
    }

    fn detail(query: &str) -> String {
        match decode::<Params>(query) {
            Ok(p) => format!("ok {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_the_parameter_in_the_apis_words() {
        assert_eq!(
            detail("leaf_index=x"),
            "query parameter `leaf_index` must be a number of the documented range"
        );
        assert_eq!(
            detail("leaf_index=1&limit="),
            "query parameter `limit` must be a number of the documented range"
        );
        assert_eq!(
            detail("limit=3"),
            "query parameter `leaf_index` is required"
        );
        assert!(detail("leaf_index=1&cursor=").starts_with("ok"));
    }
}
