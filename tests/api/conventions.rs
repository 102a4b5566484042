//! Cross-cutting conventions: problems for every error, 404/405/413/415, request ids,
//! ops endpoints, CORS, the docs page and the committed OpenAPI document.

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{postgres_url, Backend, TestApp};

async fn unknown_route_is_a_404_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.get("/api/v1/no-such-thing", None).await;
    r.expect_problem(404);
    assert!(r.str("detail").contains("/api/v1/no-such-thing"));
    app.get("/nowhere", None).await.expect_problem(404);
}

async fn wrong_method_is_a_405_with_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.delete("/api/v1/orgs", None).await;
    r.expect_problem(405);
    assert_eq!(r.header("allow").as_deref(), Some("GET, POST"));
    let r = app.call("PUT", "/api/v1/auth/login", None, None, &[]).await;
    r.expect_problem(405);
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    // Templated paths are recognised too.
    let r = app
        .call(
            "PUT",
            &format!("/api/v1/orgs/{}", uuid::Uuid::new_v4()),
            None,
            None,
            &[],
        )
        .await;
    r.expect_problem(405);
    assert_eq!(r.header("allow").as_deref(), Some("GET, PATCH"));
}

async fn malformed_bodies_are_4xx_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let path = "/api/v1/auth/register";
    let r = app
        .raw("POST", path, None, "application/json", "{\"email\": ")
        .await;
    r.expect_problem(400);
    assert!(r.str("detail").contains("malformed JSON"));
    app.raw("POST", path, None, "application/json", "[1, 2]")
        .await
        .expect_problem(422);
    app.raw("POST", path, None, "application/json", "")
        .await
        .expect_problem(400);
    let r = app
        .raw("POST", path, None, "text/plain", "email=a@b.example")
        .await;
    r.expect_problem(415);
    let r = app
        .post(
            path,
            None,
            json!({"email": "x@example.org", "password": 123456789012_u64, "display_name": "X"}),
        )
        .await;
    r.expect_problem(422);
    assert_eq!(
        r.body["errors"][0]["field"],
        json!("password"),
        "{}",
        r.text
    );
    let r = app
        .post(
            path,
            None,
            json!({"password": "long enough password", "display_name": "X"}),
        )
        .await;
    r.expect_problem(422);
    assert_eq!(r.body["errors"][0]["field"], json!("email"));
    // Nothing was stored by any of these.
    app.login("x@example.org").await.expect_problem(401);
}

async fn oversized_body_is_a_413(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.body_limit = 1024).await;
    let big = "x".repeat(2048);
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "big@example.org", "password": big, "display_name": "Big"}),
        )
        .await;
    r.expect_problem(413);
    app.login("big@example.org").await.expect(401);
}

async fn request_id_is_echoed_or_generated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .call(
            "GET",
            "/healthz",
            None,
            None,
            &[("X-Request-Id", "trace-42.abc")],
        )
        .await;
    assert_eq!(r.header("x-request-id").as_deref(), Some("trace-42.abc"));
    let r = app.get("/api/v1/orgs", None).await;
    let generated = r.header("x-request-id").expect("generated request id");
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    // A header that could forge log lines is replaced, not echoed.
    let r = app
        .call("GET", "/healthz", None, None, &[("X-Request-Id", "a b\tc")])
        .await;
    assert_ne!(r.header("x-request-id").as_deref(), Some("a b\tc"));
    // Errors carry it too.
    let r = app
        .call(
            "GET",
            "/api/v1/nope",
            None,
            None,
            &[("X-Request-Id", "err-1")],
        )
        .await;
    assert_eq!(r.header("x-request-id").as_deref(), Some("err-1"));
}

async fn ops_endpoints_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.get("/healthz", None).await;
    r.expect(200);
    assert_eq!(r.body, json!({"status": "ok"}));
    app.get("/readyz", None).await.expect(200);
    app.get("/api/v1/orgs", None).await.expect(200);
    app.get(&format!("/api/v1/orgs/{}", uuid::Uuid::new_v4()), None)
        .await
        .expect(404);
    let r = app.get("/metrics", None).await;
    r.expect(200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    assert!(
        r.text.contains(
            r#"mutua_http_requests_total{method="GET",route="/api/v1/orgs",status="200"} 1"#
        ),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains(r#"route="/api/v1/orgs/{org_id}",status="404""#),
        "{}",
        r.text
    );
    assert!(r
        .text
        .contains("mutua_http_request_duration_seconds_bucket"));
}

async fn docs_and_spec_are_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.get("/openapi.json", None).await;
    r.expect(200);
    assert_eq!(r.body["openapi"], json!("3.1.0"));
    assert!(r.body["paths"]["/api/v1/auth/login"]["post"].is_object());
    let r = app.get("/docs", None).await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location").as_deref(), Some("/docs/"));
    let r = app.get("/docs/", None).await;
    r.expect(200);
    assert!(r.text.contains("swagger-ui"), "{}", r.text);
    // Swagger UI's assets are vendored, so the page works offline.
    app.get("/docs/swagger-ui-bundle.js", None)
        .await
        .expect(200);
}

async fn cors_allows_configured_origins_only(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.cors_origins = vec!["https://app.mutua.example".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.call(
                "OPTIONS",
                "/api/v1/orgs",
                None,
                None,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                ],
            )
            .await
        }
    };
    let ok = preflight("https://app.mutua.example").await;
    assert_eq!(
        ok.header("access-control-allow-origin").as_deref(),
        Some("https://app.mutua.example")
    );
    let denied = preflight("https://evil.example").await;
    assert_eq!(denied.header("access-control-allow-origin"), None);
}

backends!(
    unknown_route_is_a_404_problem,
    wrong_method_is_a_405_with_allow,
    malformed_bodies_are_4xx_problems,
    oversized_body_is_a_413,
    request_id_is_echoed_or_generated,
    ops_endpoints_answer,
    docs_and_spec_are_served,
    cors_allows_configured_origins_only,
);

/// `/readyz` answers 503 once the database is gone (PostgreSQL: the database is dropped
/// under the running server).
#[actix_web::test]
#[ignore = "needs TEST_DATABASE_URL"]
async fn postgres_readyz_reports_a_lost_database() {
    let admin_url = postgres_url();
    let app = TestApp::spawn(Backend::Postgres).await;
    app.get("/readyz", None).await.expect(200);
    let name = app
        .database_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut conn = <diesel::PgConnection as diesel::Connection>::establish(&admin_url).unwrap();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("DROP DATABASE \"{name}\" WITH (FORCE)")),
        &mut conn,
    )
    .unwrap();
    let r = app.get("/readyz", None).await;
    r.expect_problem(503);
    assert!(r.header("retry-after").is_some());
    app.get("/healthz", None).await.expect(200);
}

/// The committed `openapi/openapi.json` is exactly what the code generates.
#[test]
fn committed_openapi_document_is_current() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    let generated = mutua::routes::openapi_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
}

/// What is wrong with an OpenAPI 3.1 document, structurally: `$ref`s that do not resolve,
/// operations without responses, path-template parameters not declared (or declared but
/// not in the template), duplicate parameters, duplicate or missing operation ids.
fn openapi_defects(doc: &Value) -> Vec<String> {
    let mut defects = Vec::new();
    if !doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1."))
    {
        defects.push(format!(
            "openapi is {}, not a 3.1.x version string",
            doc["openapi"]
        ));
    }
    for field in ["title", "version"] {
        if !doc["info"][field].is_string() {
            defects.push(format!("info.{field} is missing"));
        }
    }
    let mut refs = Vec::new();
    collect_refs(doc, "#", &mut refs);
    for (at, target) in refs {
        // `pointer` decodes the `~1` and `~0` escapes itself.
        let resolved = target
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer));
        if resolved.is_none() {
            defects.push(format!("{at}: $ref {target} does not resolve"));
        }
    }
    let Some(paths) = doc["paths"].as_object() else {
        defects.push("paths is missing".into());
        return defects;
    };
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut operation_ids = std::collections::BTreeMap::new();
    for (path, item) in paths {
        if !path.starts_with('/') {
            defects.push(format!("path {path} does not start with /"));
        }
        let template: std::collections::BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        for method in methods {
            let Some(op) = item.get(method) else { continue };
            let at = format!("{} {path}", method.to_uppercase());
            match op["responses"].as_object() {
                Some(responses) if !responses.is_empty() => {
                    for code in responses.keys() {
                        let valid = code == "default"
                            || (code.len() == 3
                                && code.starts_with(['1', '2', '3', '4', '5'])
                                && (code[1..].chars().all(|c| c.is_ascii_digit())
                                    || &code[1..] == "XX"));
                        if !valid {
                            defects.push(format!("{at}: response key {code} is not a status"));
                        }
                    }
                }
                _ => defects.push(format!("{at}: no responses")),
            }
            match op["operationId"].as_str() {
                Some(id) => {
                    if let Some(other) = operation_ids.insert(id.to_owned(), at.clone()) {
                        defects.push(format!("{at}: operationId {id} also used by {other}"));
                    }
                }
                None => defects.push(format!("{at}: no operationId")),
            }
            let declared: Vec<&Value> = item["parameters"]
                .as_array()
                .into_iter()
                .chain(op["parameters"].as_array())
                .flatten()
                .collect();
            let mut seen = std::collections::BTreeSet::new();
            for param in &declared {
                let (Some(name), Some(place)) = (param["name"].as_str(), param["in"].as_str())
                else {
                    defects.push(format!("{at}: a parameter lacks name or in: {param}"));
                    continue;
                };
                if !["query", "header", "path", "cookie"].contains(&place) {
                    defects.push(format!("{at}: parameter {name} is in {place}"));
                }
                if !seen.insert((place, name)) {
                    defects.push(format!("{at}: parameter {name} ({place}) declared twice"));
                }
                if place == "path" {
                    if !template.contains(name) {
                        defects.push(format!("{at}: path parameter {name} is not in the path"));
                    }
                    if param["required"] != json!(true) {
                        defects.push(format!("{at}: path parameter {name} is not required"));
                    }
                }
                if param.get("schema").is_none() && param.get("content").is_none() {
                    defects.push(format!("{at}: parameter {name} has no schema"));
                }
            }
            for name in &template {
                if !seen.contains(&("path", *name)) {
                    defects.push(format!("{at}: path parameter {{{name}}} is not declared"));
                }
            }
        }
    }
    defects
}

fn collect_refs(value: &Value, at: &str, refs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (key, item) in fields {
                match (key.as_str(), item) {
                    ("$ref", Value::String(target)) => refs.push((at.to_owned(), target.clone())),
                    _ => collect_refs(item, &format!("{at}/{}", key.replace('/', "~1")), refs),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_refs(item, &format!("{at}/{i}"), refs);
            }
        }
        _ => {}
    }
}

/// The generated document (the one served at `/openapi.json` and committed) is a valid
/// OpenAPI 3.1 document: every `$ref` resolves, every operation has responses and a unique
/// id, every path parameter is declared.
#[test]
fn openapi_document_is_valid() {
    let doc: Value = serde_json::from_str(&mutua::routes::openapi_json()).unwrap();
    let defects = openapi_defects(&doc);
    assert!(
        defects.is_empty(),
        "invalid OpenAPI document:\n{}",
        defects.join("\n")
    );
}

/// The checks find what they look for.
#[test]
fn openapi_checks_find_defects() {
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a/{id}": {
                "get": {"operationId": "x", "responses": {"200": {"description": "ok",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}}}},
                "post": {"operationId": "x", "responses": {}},
            },
            "/b": {"get": {"operationId": "y", "parameters": [
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"$ref": "#/components/responses/Ok"}}}},
        },
        "components": {"responses": {"Ok": {"description": "ok"}}},
    });
    let defects = openapi_defects(&doc).join("\n");
    for expected in [
        "openapi is \"3.0.3\"",
        "$ref #/components/schemas/Gone does not resolve",
        "POST /a/{id}: no responses",
        "operationId x also used by GET /a/{id}",
        "GET /a/{id}: path parameter {id} is not declared",
        "GET /b: path parameter id is not in the path",
    ] {
        assert!(
            defects.contains(expected),
            "missing {expected:?} in:\n{defects}"
        );
    }
    assert!(!defects.contains("Ok"), "{defects}");
}

/// Every operation documents its responses, a problem default, and security where it
/// needs a token.
#[test]
fn every_operation_is_fully_documented() {
    let doc: Value = serde_json::from_str(&mutua::routes::openapi_json()).unwrap();
    let public = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(
                responses.contains_key("default"),
                "{method} {path} lacks a problem default"
            );
            assert!(op["summary"].is_string(), "{method} {path} lacks a summary");
            // Anyone may read (some reads also take credentials, and say so); every
            // write but the account endpoints needs a token. An anonymous alternative
            // (`{}`) is never listed: client generators read it as "token required".
            if let Some(requirements) = op["security"].as_array() {
                assert!(
                    requirements.iter().all(|r| r["bearer"].is_array()),
                    "{method} {path} lists an anonymous security alternative"
                );
            } else {
                assert!(
                    method == "get" || public.contains(&path.as_str()),
                    "{method} {path} lacks security"
                );
            }
            if op["description"]
                .as_str()
                .is_some_and(|d| d.contains("With a bearer token"))
            {
                assert!(op["security"].is_null(), "{method} {path}");
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
