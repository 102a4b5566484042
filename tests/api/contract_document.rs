//! The OpenAPI document states what the server enforces, in the schema rather than in
//! prose: the rules a client generator or a fuzzer reads. (That the server keeps to them is
//! what the contract run in `.ci/contract` checks from outside.)

use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(&mutua::routes::openapi_json()).expect("the document is JSON")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

fn schema<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let name = reference.trim_start_matches("#/components/schemas/");
    &doc["components"]["schemas"][name]
}

#[test]
fn every_list_bounds_its_limit_and_pages_refer_to_their_items() {
    let doc = document();
    let mut lists = 0;
    for (method, path, op) in operations(&doc) {
        let Some(reference) =
            op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].as_str()
        else {
            continue;
        };
        let page = schema(&doc, reference);
        if page["properties"]["next_cursor"].is_null() || !page["properties"]["items"].is_object() {
            continue;
        }
        let item = &page["properties"]["items"]["items"];
        assert!(
            item["$ref"].is_string(),
            "{method} {path}: page items are inlined, not referred to: {item}"
        );
        let paged = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "cursor");
        if !paged {
            // A short list answered whole (an agreement's two endorsements at most).
            continue;
        }
        lists += 1;
        let limit = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "limit")
            .unwrap_or_else(|| panic!("{method} {path} has no limit"));
        if path.ends_with("/transparency/entries") || limit["schema"]["maximum"].is_number() {
            assert_eq!(limit["schema"]["minimum"], 1, "{method} {path}");
            assert!(
                limit["schema"]["maximum"].as_i64().unwrap() <= 100,
                "{method} {path}"
            );
        } else {
            panic!("{method} {path}: limit has no bounds");
        }
        let cursor = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "cursor");
        if let Some(cursor) = cursor {
            assert!(
                cursor["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("empty")),
                "{method} {path}: what an empty cursor means is not said"
            );
        }
    }
    assert!(lists >= 20, "only {lists} lists found");
}

#[test]
fn every_response_names_its_headers() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let idempotent = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "Idempotency-Key");
        for (status, response) in op["responses"].as_object().unwrap() {
            let response = match response["$ref"].as_str() {
                Some(r) => {
                    &doc["components"]["responses"][r.trim_start_matches("#/components/responses/")]
                }
                None => response,
            };
            let headers = &response["headers"];
            assert!(
                headers["X-Request-Id"].is_object(),
                "{method} {path} {status} lacks X-Request-Id"
            );
            if status == "201" && !path.ends_with("/auth/register") {
                assert!(
                    headers["Location"].is_object(),
                    "{method} {path} 201 lacks Location"
                );
            }
            if status.starts_with('2') && idempotent {
                assert!(
                    headers["Idempotent-Replayed"].is_object(),
                    "{method} {path} {status} lacks Idempotent-Replayed"
                );
            }
            if status == "429" || status == "default" {
                assert!(
                    headers["Retry-After"].is_object(),
                    "{method} {path} {status}"
                );
            }
        }
        if method == "get" && op["responses"]["200"]["headers"]["ETag"].is_object() {
            assert!(
                op["responses"]["304"].is_object(),
                "{method} {path} lacks 304"
            );
            assert!(
                op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == "If-None-Match"),
                "{method} {path} lacks If-None-Match"
            );
        }
        if idempotent {
            let key = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "Idempotency-Key")
                .unwrap();
            assert_eq!(key["schema"]["type"], "string", "{method} {path}");
            assert_eq!(key["schema"]["pattern"], "^[\\x21-\\x7E]{1,255}$");
        }
    }
}

/// Every string a request body carries is constrained (pattern, format or enum), and so
/// is every field name.
#[test]
fn request_strings_say_what_the_server_accepts() {
    let doc = document();
    fn walk(doc: &Value, schema: &Value, at: &str, seen: &mut Vec<String>) {
        if let Some(reference) = schema["$ref"].as_str() {
            if seen.iter().any(|s| s == reference) {
                return;
            }
            seen.push(reference.to_owned());
            return walk(doc, self::schema(doc, reference), reference, seen);
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for part in schema[key].as_array().into_iter().flatten() {
                walk(doc, part, at, seen);
            }
        }
        if let Some(properties) = schema["properties"].as_object() {
            assert!(
                schema["propertyNames"]["pattern"].is_string(),
                "{at}: field names are not constrained"
            );
            for (name, property) in properties {
                walk(doc, property, &format!("{at}.{name}"), seen);
            }
        }
        if !schema["items"].is_null() {
            walk(doc, &schema["items"], &format!("{at}[]"), seen);
        }
        let is_string = schema["type"] == "string"
            || schema["type"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|t| t == "string"));
        if is_string {
            assert!(
                schema["pattern"].is_string()
                    || schema["format"].is_string()
                    || schema["enum"].is_array(),
                "{at}: a string without pattern, format or enum: {schema}"
            );
        }
    }
    let mut bodies = 0;
    for (method, path, op) in operations(&doc) {
        let body = &op["requestBody"]["content"]["application/json"]["schema"];
        if body.is_null() {
            continue;
        }
        bodies += 1;
        assert!(
            body["oneOf"].is_null(),
            "{method} {path}: an optional body is a oneOf with null"
        );
        walk(&doc, body, &format!("{method} {path}"), &mut Vec::new());
    }
    assert!(bodies >= 25, "only {bodies} request bodies");
}

/// Reads anyone may make carry no security requirement (a generated client's plain
/// `Client` may call them); the ones that also read credentials say so.
#[test]
fn public_reads_need_no_authenticated_client() {
    let doc = document();
    for path in [
        "/api/v1/listings/{id}",
        "/api/v1/listings",
        "/api/v1/modlog",
        "/api/v1/agreements",
        "/api/v1/agreements/{id}",
        "/api/v1/transparency/checkpoint",
        "/api/v1/transparency/proofs/inclusion",
        "/api/v1/orgs/{org_id}/reciprocity",
    ] {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "{path}");
        assert!(op["security"].is_null(), "GET {path}: {}", op["security"]);
    }
    for path in [
        "/api/v1/listings/{id}",
        "/api/v1/modlog",
        "/api/v1/agreements/{id}",
    ] {
        let description = doc["paths"][path]["get"]["description"]
            .as_str()
            .unwrap_or("");
        assert!(description.contains("With a bearer token"), "GET {path}");
    }
    assert_eq!(
        doc["paths"]["/api/v1/me"]["get"]["security"][0]["bearer"],
        serde_json::json!([])
    );
}

/// Event types are named as they travel (`agreement.completed`), not as Rust spells them.
#[test]
fn enums_carry_their_wire_names() {
    let doc = document();
    let events = doc["components"]["schemas"]["EventType"]["enum"]
        .as_array()
        .expect("EventType is an enum");
    assert!(
        events.iter().any(|e| e == "agreement.completed"),
        "{events:?}"
    );
    assert!(events.iter().all(|e| e.as_str().unwrap().contains('.')));
    for (schema, values) in [
        ("WebhookStatus", vec!["active", "paused", "failing"]),
        ("DeliveryStatus", vec!["pending", "delivered", "failed"]),
    ] {
        assert_eq!(
            doc["components"]["schemas"][schema]["enum"],
            serde_json::json!(values),
            "{schema}"
        );
    }
    assert!(doc["components"]["schemas"]["BTreeMap"].is_null());
}
