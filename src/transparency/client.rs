//! Reads a Mutua server's transparency log over HTTP, for `mutua verify --server`. It only
//! fetches; every check is made by [`super::verify`] on what it fetched, so a lying server
//! is caught the same way a forged file is.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::wire::{ConsistencyProof, EntryPage, InclusionProof, LogEntry, PublicKey};

/// A client of one server's `/api/v1/transparency` endpoints.
pub struct LogClient {
    base: String,
    http: reqwest::blocking::Client,
    token: Option<String>,
}

impl LogClient {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`), sending `token` as a
    /// bearer token when given (a party's view of a confidential agreement needs one).
    pub fn new(base: &str, token: Option<String>) -> Result<LogClient, String> {
        let base = base.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "--server must be an http:// or https:// URL, got `{base}`"
            ));
        }
        // reqwest is built without a TLS backend of its own; rustls with ring serves it.
        // Installing twice is harmless (the first one stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("mutua-verify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(LogClient {
            base: base.to_owned(),
            http,
            token,
        })
    }

    fn get(&self, path: &str) -> Result<String, String> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.get(&url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .map_err(|e| format!("cannot fetch {url}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .map_err(|e| format!("cannot read {url}: {e}"))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["detail"].as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(format!("{url} answered {status} {detail}")
                .trim()
                .to_owned());
        }
        Ok(text)
    }

    fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let text = self.get(path)?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}{path} sent JSON of an unexpected shape: {e}", self.base))
    }

    /// `GET /transparency/public-key`.
    pub fn public_key(&self) -> Result<PublicKey, String> {
        self.get_json("/api/v1/transparency/public-key")
    }

    /// `GET /transparency/checkpoint`: the signed note, unchecked.
    pub fn checkpoint(&self) -> Result<String, String> {
        self.get("/api/v1/transparency/checkpoint")
    }

    /// The entry at `index`, from `GET /transparency/entries`.
    pub fn entry(&self, index: u64) -> Result<LogEntry, String> {
        let page: EntryPage = self.get_json(&format!(
            "/api/v1/transparency/entries?start={index}&limit=1"
        ))?;
        page.items
            .into_iter()
            .find(|e| e.index == index)
            .ok_or_else(|| format!("the server has no log entry {index}"))
    }

    /// `GET /transparency/proofs/inclusion`.
    pub fn inclusion(&self, leaf_index: u64, tree_size: u64) -> Result<InclusionProof, String> {
        self.get_json(&format!(
            "/api/v1/transparency/proofs/inclusion?leaf_index={leaf_index}&tree_size={tree_size}"
        ))
    }

    /// `GET /transparency/proofs/consistency`.
    pub fn consistency(&self, first: u64, second: u64) -> Result<ConsistencyProof, String> {
        self.get_json(&format!(
            "/api/v1/transparency/proofs/consistency?first={first}&second={second}"
        ))
    }

    /// `GET /agreements/{id}`, as JSON.
    pub fn agreement(&self, id: &str) -> Result<Value, String> {
        let valid = uuid::Uuid::parse_str(id).is_ok();
        if !valid {
            return Err(format!("`{id}` is not an agreement id (a UUID)"));
        }
        self.get_json(&format!("/api/v1/agreements/{id}"))
    }
}
