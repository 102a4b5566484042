//! The HTTP conventions integrators rely on: `HEAD` wherever `GET` works, `304` for a
//! current `If-None-Match`, problem documents for every error (414, 431 and CORS refusals
//! included) whose `type` resolves to a page and whose `instance` and `request_id` name the
//! request, and `detail`s in this API's words.

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{Backend, Resp, TestApp};
use crate::market::{offer, world, World, LISTINGS};

/// Phrases of libraries that must never reach a client.
const LIBRARY_WORDS: [&str; 9] = [
    "deserialize",
    "Deserialize",
    "InvalidToken",
    "unknown variant",
    "invalid type:",
    "UUID parsing failed",
    "at line 1 column",
    "serde",
    "Error(",
];

fn assert_plain_words(resp: &Resp) {
    let detail = resp.str("detail");
    for words in LIBRARY_WORDS {
        assert!(!detail.contains(words), "{words:?} in {detail:?}");
    }
    for error in resp.body["errors"].as_array().into_iter().flatten() {
        let message = error["message"].as_str().unwrap_or_default();
        for words in LIBRARY_WORDS {
            assert!(!message.contains(words), "{words:?} in {message:?}");
        }
    }
}

/// A world with one published listing of one company; its id and the owner's token.
async fn one_listing(backend: Backend) -> (World, String, String, String) {
    let w = world(backend).await;
    let company = w.company("anna@hotel-linde.example", "Hotel Linde").await;
    let id = w
        .publish(
            &company,
            offer(
                "Biete: Schulung Frühstücksservice",
                &["fruehstueck", "schulung"],
            ),
        )
        .await;
    let token = company.owner.access.clone();
    (w, id, token, company.id)
}

async fn head_answers_like_get_without_a_body(backend: Backend) {
    let (w, id, token, org) = one_listing(backend).await;
    let app = &w.app;
    let paths = [
        ("/healthz".to_owned(), None),
        ("/readyz".to_owned(), None),
        (LISTINGS.to_owned(), None),
        (format!("{LISTINGS}/{id}"), None),
        (format!("/api/v1/orgs/{org}"), None),
        ("/api/v1/modlog".to_owned(), None),
        ("/api/v1/transparency/checkpoint".to_owned(), None),
        ("/api/v1/me".to_owned(), Some(token.as_str())),
        (format!("/api/v1/orgs/{org}/members"), Some(token.as_str())),
        ("/api/v1/me".to_owned(), None),
        (format!("{LISTINGS}/{}", uuid::Uuid::new_v4()), None),
    ];
    for (path, token) in paths {
        let get = app.call("GET", &path, token, None, &[]).await;
        let head = app.call("HEAD", &path, token, None, &[]).await;
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert!(
            head.text.is_empty(),
            "HEAD {path} sent a body: {}",
            head.text
        );
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "HEAD {path}"
        );
        assert_eq!(
            head.header("content-length"),
            Some(get.text.len().to_string()),
            "HEAD {path} announces the GET's length"
        );
    }
    // A path without GET still answers 405, naming HEAD nowhere it does not work.
    app.call("HEAD", "/api/v1/auth/login", None, None, &[])
        .await
        .expect(405);
}

async fn current_if_none_match_answers_304(backend: Backend) {
    let (w, id, token, org) = one_listing(backend).await;
    let app = &w.app;
    for path in [format!("{LISTINGS}/{id}"), format!("/api/v1/orgs/{org}")] {
        let first = app.get(&path, Some(&token)).await;
        first.expect(200);
        let etag = first.header("etag").expect("an ETag");
        for held in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"0\", {etag}"),
            "*".into(),
        ] {
            let again = app
                .call(
                    "GET",
                    &path,
                    Some(&token),
                    None,
                    &[("If-None-Match", &held)],
                )
                .await;
            assert_eq!(again.status, 304, "{path} with {held}");
            assert!(again.text.is_empty());
            assert_eq!(again.header("etag").as_deref(), Some(etag.as_str()));
            assert!(again.header("x-request-id").is_some());
            let head = app
                .call(
                    "HEAD",
                    &path,
                    Some(&token),
                    None,
                    &[("If-None-Match", &held)],
                )
                .await;
            assert_eq!(head.status, 304, "HEAD {path} with {held}");
        }
        let stale = app
            .call(
                "GET",
                &path,
                Some(&token),
                None,
                &[("If-None-Match", "\"999\"")],
            )
            .await;
        stale.expect(200);
        assert_eq!(stale.body, first.body);
    }
    // After a change the held ETag is stale: the new version comes back in full.
    let path = format!("/api/v1/orgs/{org}");
    let held = app.get(&path, Some(&token)).await.header("etag").unwrap();
    app.patch(
        &path,
        Some(&token),
        json!({"description": "Tagungshotel am See"}),
    )
    .await
    .expect(200);
    let changed = app
        .call(
            "GET",
            &path,
            Some(&token),
            None,
            &[("If-None-Match", &held)],
        )
        .await;
    changed.expect(200);
    assert_eq!(changed.body["description"], "Tagungshotel am See");
    assert_ne!(changed.header("etag"), Some(held));
}

async fn problems_name_their_request_and_their_type_resolves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let path = format!("{LISTINGS}/{}", uuid::Uuid::new_v4());
    let missing = app
        .call("GET", &path, None, None, &[("X-Request-Id", "lookup-42")])
        .await;
    missing.expect_problem(404);
    assert_eq!(missing.body["instance"], path.as_str());
    assert_eq!(missing.body["request_id"], "lookup-42");
    assert_eq!(missing.header("x-request-id").as_deref(), Some("lookup-42"));

    // Each problem type this API answers with resolves to a page describing it.
    let index = app.get("/problems", None).await;
    index.expect(200);
    assert!(index
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    let slugs: Vec<String> = index
        .text
        .split("href=\"/problems/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    assert!(slugs.len() >= 15, "{slugs:?}");
    for slug in &slugs {
        let page = app.get(&format!("/problems/{slug}"), None).await;
        page.expect(200);
        assert!(page.text.contains(&format!("/problems/{slug}")), "{slug}");
    }
    let page = app.get(missing.body["type"].as_str().unwrap(), None).await;
    page.expect(200);
    assert!(page.text.contains("Not found"), "{}", page.text);
    let unknown = app.get("/problems/no-such-problem", None).await;
    unknown.expect_problem(404);
    assert_eq!(unknown.body["instance"], "/problems/no-such-problem");
}

async fn oversized_heads_and_cors_refusals_are_problems(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.cors_origins = vec!["https://partner.example".into()];
    })
    .await;
    let long = format!("{LISTINGS}?q={}", "a".repeat(9_000));
    let r = app.get(&long, None).await;
    r.expect_problem(414);
    assert_eq!(r.body["type"], "/problems/uri-too-long");
    assert_eq!(r.body["instance"], LISTINGS);

    let big = "b".repeat(40_000);
    let r = app
        .call("GET", "/healthz", None, None, &[("X-Padding", &big)])
        .await;
    r.expect_problem(431);
    assert_eq!(r.body["type"], "/problems/headers-too-large");

    let preflight = |origin: &'static str, method: &'static str| {
        let app = &app;
        async move {
            app.call(
                "OPTIONS",
                LISTINGS,
                None,
                None,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", method),
                ],
            )
            .await
        }
    };
    let refused = preflight("https://elsewhere.example", "GET").await;
    refused.expect_problem(403);
    assert!(refused.str("detail").contains("origin"), "{}", refused.text);
    let refused = preflight("https://partner.example", "PUT").await;
    refused.expect_problem(403);
    let allowed = preflight("https://partner.example", "HEAD").await;
    assert!(allowed.status < 300, "{}", allowed.status);
    assert_eq!(
        allowed.header("access-control-allow-origin").as_deref(),
        Some("https://partner.example")
    );

    // Request headers: the allowed ones in any case pass, another is refused in words that
    // list what is allowed.
    let with_headers = |wanted: &'static str| {
        let app = &app;
        async move {
            app.call(
                "OPTIONS",
                LISTINGS,
                None,
                None,
                &[
                    ("Origin", "https://partner.example"),
                    ("Access-Control-Request-Method", "PATCH"),
                    ("Access-Control-Request-Headers", wanted),
                ],
            )
            .await
        }
    };
    let allowed = with_headers("authorization, If-Match, idempotency-key").await;
    assert!(allowed.status < 300, "{} {}", allowed.status, allowed.text);
    let refused = with_headers("authorization, x-secret").await;
    refused.expect_problem(403);
    assert_eq!(
        refused.str("detail"),
        "a cross-origin request may send only the headers Authorization, Content-Type, \
         If-Match, If-None-Match, Idempotency-Key and X-Request-Id"
    );
}

async fn details_speak_the_apis_words(backend: Backend) {
    let (w, _, token, org) = one_listing(backend).await;
    let app = &w.app;
    let bad_path = app.get(&format!("{LISTINGS}/not-a-uuid"), None).await;
    bad_path.expect_problem(400);
    assert_eq!(
        bad_path.str("detail"),
        "path parameter `id` must be a UUID, not \"not-a-uuid\""
    );
    let bad_token = app.get("/api/v1/me", Some("abc")).await;
    bad_token.expect_problem(401);
    assert_plain_words(&bad_token);
    let bad_query = app
        .get(
            "/api/v1/transparency/proofs/inclusion?leaf_index=x&tree_size=1",
            None,
        )
        .await;
    bad_query.expect_problem(400);
    assert!(
        bad_query.str("detail").contains("leaf_index"),
        "{}",
        bad_query.text
    );
    assert_plain_words(&bad_query);

    let create = |body: Value| {
        let token = token.clone();
        async move { app.post(LISTINGS, Some(&token), body).await }
    };
    let mut body = offer("Biete: Weinschulung", &["wein"]);
    body["org_id"] = json!(org);
    for (field, value) in [
        ("kind", json!("none")),
        ("tags", json!("wein")),
        ("title", json!(5)),
        ("expires_at", json!("morgen")),
        ("org_id", json!("x")),
    ] {
        let mut bad = body.clone();
        bad[field] = value;
        let r = create(bad).await;
        assert!(r.status == 422 || r.status == 400, "{field}: {}", r.text);
        assert_plain_words(&r);
    }
    let r = app
        .raw(
            "POST",
            LISTINGS,
            Some(&token),
            "application/json",
            "{\"kind\": ",
        )
        .await;
    r.expect_problem(400);
    assert_plain_words(&r);
    assert!(r.str("detail").starts_with("malformed JSON"), "{}", r.text);
}

async fn a_bad_tag_is_one_error(backend: Backend) {
    let (w, _, token, org) = one_listing(backend).await;
    let mut body = offer("Biete: Weinschulung", &["A B"]);
    body["org_id"] = json!(org);
    let r = w.app.post(LISTINGS, Some(&token), body.clone()).await;
    r.expect_problem(422);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["tags[0]"], "{}", r.text);
    // No tag at all, and too many, are each one error about the list.
    for tags in [
        json!([]),
        json!((0..11).map(|i| format!("tag-{i}")).collect::<Vec<_>>()),
    ] {
        body["tags"] = tags;
        let r = w.app.post(LISTINGS, Some(&token), body.clone()).await;
        r.expect_problem(422);
        assert_eq!(r.body["errors"].as_array().unwrap().len(), 1, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "tags");
    }
    // Untrimmed, upper-case tags are normalised, not refused.
    body["tags"] = json!([" Wein ", "KÜCHE"]);
    let r = w.app.post(LISTINGS, Some(&token), body.clone()).await;
    r.expect_problem(422);
    assert_eq!(r.body["errors"][0]["field"], "tags[1]");
    body["tags"] = json!([" Wein ", "Kueche"]);
    let r = w.app.post(LISTINGS, Some(&token), body).await;
    r.expect(201);
    assert_eq!(r.body["tags"], json!(["wein", "kueche"]));
}

async fn an_empty_cursor_is_the_first_page(backend: Backend) {
    let (w, _, token, org) = one_listing(backend).await;
    for path in [
        format!("{LISTINGS}?cursor="),
        format!("/api/v1/orgs/{org}/members?cursor="),
        "/api/v1/modlog?cursor=".to_owned(),
        "/api/v1/transparency/entries?cursor=".to_owned(),
        format!("/api/v1/orgs/{org}/events?cursor="),
    ] {
        let empty = w.app.get(&path, Some(&token)).await;
        empty.expect(200);
        let absent = w
            .app
            .get(path.trim_end_matches("?cursor="), Some(&token))
            .await;
        assert_eq!(empty.body["items"], absent.body["items"], "{path}");
    }
}

backends!(
    head_answers_like_get_without_a_body,
    current_if_none_match_answers_304,
    problems_name_their_request_and_their_type_resolves,
    oversized_heads_and_cors_refusals_are_problems,
    details_speak_the_apis_words,
    a_bad_tag_is_one_error,
    an_empty_cursor_is_the_first_page,
);
