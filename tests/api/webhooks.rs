//! Webhooks end to end: a receiver started here gets correctly signed events for a whole
//! negotiation; it goes down and, once back, receives every event (duplicates carry the same
//! event id); two instances deliver each attempt once; inner addresses are refused when
//! saved and again when delivering; and the management endpoints keep to the conventions.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::backends;
use crate::deals::{act, exchange_terms, pair};
use crate::helpers::{error_fields, Backend, TestApp};
use mutua::settings::{RetrySchedule, UrlPolicy, WebhookSettings};
use mutua::webhooks::Deliverer;

backends!(
    a_negotiation_arrives_signed_at_the_receiver,
    a_receiver_that_was_down_gets_every_event_once_back,
    two_instances_deliver_each_attempt_once,
    inner_addresses_are_refused_when_saved_and_when_delivering,
    webhooks_are_managed_by_owners_and_admins_only,
    a_delivery_out_of_retries_pauses_its_webhook_until_enabled,
    a_rotated_secret_signs_beside_the_new_one_and_a_dead_runners_claims_are_taken_over,
    a_paused_webhooks_backlog_takes_no_slot_of_others,
);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    event_id: String,
    signature: String,
    body: String,
}

/// A local endpoint that records what it receives and answers with a settable status.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (g, s) = (got.clone(), status.clone());
        let server = HttpServer::new(move || {
            let (g, s) = (g.clone(), s.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    g.lock().unwrap().push(Received {
                        event_id: header("mutua-event-id"),
                        signature: header("mutua-signature"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let code = s.load(Ordering::SeqCst);
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                        .body(if code == 200 { "danke" } else { "gerade nicht" })
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Receiver {
            url: format!("http://127.0.0.1:{port}/mutua"),
            got,
            status,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// Delivery settings for tests: local plain-http receivers allowed, fast retries.
fn local_delivery() -> WebhookSettings {
    WebhookSettings {
        policy: UrlPolicy {
            allow_http: true,
            allow_private: true,
        },
        schedule: RetrySchedule {
            first: Duration::from_millis(50),
            give_up_after: Duration::from_secs(3600),
        },
        ..WebhookSettings::default()
    }
}

async fn local_app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| s.webhooks = local_delivery()).await
}

fn deliverer(app: &TestApp, runner: &str, settings: WebhookSettings) -> Deliverer {
    Deliverer::new(app.pool.clone(), runner.to_owned(), settings).expect("deliverer")
}

fn hooks_path(org: &str) -> String {
    format!("/api/v1/orgs/{org}/webhooks")
}

/// The `v1` signatures of a `Mutua-Signature` value, and its timestamp.
fn verify(secret: &str, received: &Received) -> bool {
    use hmac::{Hmac, Mac};
    let mut t = "";
    let mut v1 = Vec::new();
    for part in received.signature.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value,
            Some(("v1", value)) => v1.push(value.to_owned()),
            _ => {}
        }
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", received.body).as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    v1.contains(&expected) && (0..300).contains(&age)
}

async fn register(app: &TestApp, owner: &str, org: &str, url: &str, types: Value) -> Value {
    let created = app
        .post(
            &hooks_path(org),
            Some(owner),
            json!({"url": url, "event_types": types}),
        )
        .await;
    created.expect(201);
    created.body.clone()
}

async fn a_negotiation_arrives_signed_at_the_receiver(backend: Backend) {
    let app = local_app(backend).await;
    let receiver = Receiver::start().await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a, &pair.b);
    let hook = register(&app, &b.owner.access, &b.id, &receiver.url, json!([])).await;
    let secret = hook["secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    let proposal = crate::deals::open(&app, &pair, false).await.str("id");
    act(
        &app,
        &b.owner.access,
        &proposal,
        "counter",
        json!({"terms": exchange_terms(), "message": "Zwei Tage?"}),
    )
    .await
    .expect(201);
    let accepted = act(
        &app,
        &a.owner.access,
        &proposal,
        "accept",
        json!({"revision": 2}),
    )
    .await;
    accepted.expect(200);
    crate::deals::complete(&app, &pair, &accepted.str("agreement_id")).await;

    deliverer(&app, "runner-a", local_delivery())
        .drain()
        .await
        .unwrap();
    let got = receiver.received();
    let feed = app
        .get(
            &format!("/api/v1/orgs/{}/events?limit=100", b.id),
            Some(&b.owner.access),
        )
        .await;
    feed.expect(200);
    let events = feed.body["items"].as_array().unwrap();
    assert_eq!(got.len(), events.len(), "{got:?}");
    // Deliveries run side by side, so they may arrive in any order: matched by event id.
    for event in events {
        let received = got
            .iter()
            .find(|r| r.event_id == event["id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("event {event} not delivered"));
        assert!(verify(&secret, received), "signature of {received:?}");
        let body: Value = serde_json::from_str(&received.body).unwrap();
        assert_eq!(
            &body, event,
            "the delivery is the event as the feed shows it"
        );
        assert_eq!(received.event_id, event["id"].as_str().unwrap());
        assert!(!verify("whsec_someone-elses", received));
    }
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "proposal.received",
            "proposal.countered",
            "proposal.accepted",
            "agreement.confirmed",
            "agreement.completed"
        ]
    );
    // Every delivery is recorded as delivered, with its one attempt.
    let deliveries = app
        .get(
            &format!(
                "{}/{}/deliveries",
                hooks_path(&b.id),
                hook["id"].as_str().unwrap()
            ),
            Some(&b.owner.access),
        )
        .await;
    deliveries.expect(200);
    for d in deliveries.body["items"].as_array().unwrap() {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(d["attempts"][0]["status_code"], 200);
        assert_eq!(d["attempts"][0]["response_snippet"], "danke");
    }
    // Nothing for a's organisation, which has no webhook; nothing twice.
    deliverer(&app, "runner-a", local_delivery())
        .drain()
        .await
        .unwrap();
    assert_eq!(receiver.received().len(), got.len());
}

async fn a_receiver_that_was_down_gets_every_event_once_back(backend: Backend) {
    let app = local_app(backend).await;
    let receiver = Receiver::start().await;
    let pair = pair(&app).await;
    let b = &pair.b;
    let hook = register(
        &app,
        &b.owner.access,
        &b.id,
        &receiver.url,
        json!(["proposal.received", "proposal.withdrawn"]),
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let secret = hook["secret"].as_str().unwrap().to_owned();
    receiver.status.store(503, Ordering::SeqCst);
    let first = crate::deals::open(&app, &pair, false).await.str("id");
    let second = crate::deals::open(&app, &pair, false).await.str("id");
    act(&app, &pair.a.owner.access, &first, "withdraw", json!({}))
        .await
        .expect(200);
    let runner = deliverer(&app, "runner-a", local_delivery());
    runner.drain().await.unwrap();
    assert_eq!(receiver.received().len(), 3, "each tried once while down");
    let listed = app
        .get(
            &format!("{}/{hook_id}/deliveries", hooks_path(&b.id)),
            Some(&b.owner.access),
        )
        .await;
    listed.expect(200);
    for d in listed.body["items"].as_array().unwrap() {
        assert_eq!(d["status"], "pending");
        assert_eq!(d["attempts"][0]["status_code"], 503);
        assert_eq!(d["attempts"][0]["response_snippet"], "gerade nicht");
        assert!(d["next_attempt_at"].is_string());
    }
    // Back up: once the retries are due, everything arrives.
    receiver.status.store(200, Ordering::SeqCst);
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    runner.drain().await.unwrap();
    let got = receiver.received();
    assert_eq!(got.len(), 6, "three failed attempts, three delivered");
    let delivered: Vec<&Received> = got[3..].iter().collect();
    let mut ids: Vec<&str> = delivered.iter().map(|r| r.event_id.as_str()).collect();
    ids.sort_unstable();
    let mut first_ids: Vec<&str> = got[..3].iter().map(|r| r.event_id.as_str()).collect();
    first_ids.sort_unstable();
    assert_eq!(ids, first_ids, "a retry carries the same event id");
    assert!(delivered.iter().all(|r| verify(&secret, r)));
    let bodies: Vec<Value> = delivered
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let mut types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "proposal.received",
            "proposal.received",
            "proposal.withdrawn"
        ]
    );
    assert!(bodies.iter().any(|b| b["data"]["id"] == json!(second)));
    // Redelivering sends the same event again, as a new delivery.
    let listed = app
        .get(
            &format!("{}/{hook_id}/deliveries", hooks_path(&b.id)),
            Some(&b.owner.access),
        )
        .await;
    let one = listed.body["items"][0].clone();
    assert_eq!(one["status"], "delivered");
    let again = app
        .post(
            &format!(
                "{}/{hook_id}/deliveries/{}/redeliver",
                hooks_path(&b.id),
                one["id"].as_str().unwrap()
            ),
            Some(&b.owner.access),
            json!({}),
        )
        .await;
    again.expect(202);
    assert_eq!(again.body["event_id"], one["event_id"]);
    assert_eq!(again.body["status"], "pending");
    runner.drain().await.unwrap();
    let last = receiver.received().last().cloned().unwrap();
    assert_eq!(last.event_id, one["event_id"].as_str().unwrap());
}

async fn two_instances_deliver_each_attempt_once(backend: Backend) {
    let app = local_app(backend).await;
    let sibling = app
        .spawn_sibling_with(|s| s.webhooks = local_delivery())
        .await;
    let receiver = Receiver::start().await;
    let owner = app.user("anna@hotel-alpenblick.example").await;
    let org = app.org(&owner, "Hotel Alpenblick").await;
    register(
        &app,
        &owner.access,
        &org,
        &receiver.url,
        json!(["listing.submitted"]),
    )
    .await;
    for i in 0..24 {
        let mut body = crate::market::offer(&format!("Schulung {i}"), &["schulung"]);
        body["org_id"] = json!(org);
        let id = app
            .post("/api/v1/listings", Some(&owner.access), body)
            .await
            .str("id");
        app.post(
            &format!("/api/v1/listings/{id}/submit"),
            Some(&owner.access),
            json!({}),
        )
        .await
        .expect(200);
    }
    let settings = WebhookSettings {
        concurrency: 3,
        ..local_delivery()
    };
    let (one, two) = (
        deliverer(&app, "runner-a", settings.clone()),
        deliverer(&sibling, "runner-b", settings),
    );
    let (x, y) = tokio::join!(one.drain(), two.drain());
    x.unwrap();
    y.unwrap();
    let got = receiver.received();
    let mut ids: Vec<String> = got.iter().map(|r| r.event_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 24, "every event delivered");
    assert_eq!(got.len(), 24, "and each exactly once");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM webhook_attempts"), 24);
}

async fn inner_addresses_are_refused_when_saved_and_when_delivering(backend: Backend) {
    // A deployment with the default policy: public https only.
    let strict = TestApp::spawn(backend).await;
    let owner = strict.user("anna@hotel-alpenblick.example").await;
    let org = strict.org(&owner, "Hotel Alpenblick").await;
    for url in [
        "http://hooks.example.com/mutua",
        "https://127.0.0.1/mutua",
        "https://[::1]:8443/mutua",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.7/mutua",
        "https://localhost/mutua",
        "https://anna:geheim@hooks.example.com/",
        "kein Link",
    ] {
        let refused = strict
            .post(&hooks_path(&org), Some(&owner.access), json!({"url": url}))
            .await;
        refused.expect_problem(422);
        assert_eq!(error_fields(&refused), ["url"], "{url}: {}", refused.text);
    }
    strict
        .post(
            &hooks_path(&org),
            Some(&owner.access),
            json!({"url": "https://hooks.example.com/x", "event_types": ["proposal.exploded"]}),
        )
        .await
        .expect_problem(422);
    assert_eq!(strict.count("SELECT COUNT(*) AS n FROM webhooks"), 0);

    // Saved where private addresses were allowed, delivered by a runner that allows none:
    // the address is checked again at delivery and nothing is sent.
    let app = local_app(backend).await;
    let receiver = Receiver::start().await;
    let owner = app.user("bernd@gasthof-seeblick.example").await;
    let org = app.org(&owner, "Gasthof Seeblick").await;
    let hook = register(&app, &owner.access, &org, &receiver.url, json!([])).await;
    app.post(
        &format!("/api/v1/orgs/{org}/api-keys"),
        Some(&owner.access),
        json!({"name": "Kasse", "scopes": ["read"]}),
    )
    .await
    .expect(201);
    let no_private = WebhookSettings {
        policy: UrlPolicy {
            allow_http: true,
            allow_private: false,
        },
        ..local_delivery()
    };
    deliverer(&app, "runner-a", no_private)
        .drain()
        .await
        .unwrap();
    assert!(
        receiver.received().is_empty(),
        "nothing reached the inner address"
    );
    let listed = app
        .get(
            &format!(
                "{}/{}/deliveries",
                hooks_path(&org),
                hook["id"].as_str().unwrap()
            ),
            Some(&owner.access),
        )
        .await;
    listed.expect(200);
    let attempt = &listed.body["items"][0]["attempts"][0];
    assert!(attempt["status_code"].is_null());
    assert!(
        attempt["error"].as_str().unwrap().starts_with("refused"),
        "{attempt}"
    );
}

async fn webhooks_are_managed_by_owners_and_admins_only(backend: Backend) {
    let app = local_app(backend).await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a, &pair.b);
    let hook = register(
        &app,
        &a.owner.access,
        &a.id,
        "https://erp.hotel-alpenblick.example/mutua",
        json!(["proposal.received"]),
    )
    .await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let path = format!("{}/{id}", hooks_path(&a.id));
    // Reads never show the secret again.
    let read = app.get(&path, Some(&a.owner.access)).await;
    read.expect(200);
    assert!(read.body.get("secret").is_none());
    assert_eq!(read.header("etag").as_deref(), Some("\"1\""));
    let listed = app.get(&hooks_path(&a.id), Some(&a.owner.access)).await;
    listed.expect(200);
    assert!(!listed.text.contains(hook["secret"].as_str().unwrap()));
    // Another organisation's owner, a key of the organisation, a stranger: no.
    app.get(&path, Some(&b.owner.access))
        .await
        .expect_problem(403);
    let key = app.api_key(&a.id, &a.owner, &["read", "write"]).await;
    app.get(&path, Some(&key)).await.expect_problem(403);
    app.get(&path, None).await.expect_problem(401);
    app.get(
        &format!("{}/{}", hooks_path(&b.id), id),
        Some(&b.owner.access),
    )
    .await
    .expect_problem(404);
    // PATCH honours If-Match; enabling clears failing.
    let stale = app
        .call(
            "PATCH",
            &path,
            Some(&a.owner.access),
            Some(json!({"enabled": false})),
            &[("If-Match", "\"7\"")],
        )
        .await;
    stale.expect_problem(412);
    let paused = app
        .call(
            "PATCH",
            &path,
            Some(&a.owner.access),
            Some(json!({"enabled": false, "event_types": []})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    paused.expect(200);
    assert_eq!(paused.body["status"], "paused");
    assert_eq!(paused.body["event_types"], json!([]));
    assert_eq!(paused.header("etag").as_deref(), Some("\"2\""));
    app.patch(
        &path,
        Some(&a.owner.access),
        json!({"url": "https://127.0.0.1/x"}),
    )
    .await
    .expect(200); // allowed here: this deployment allows private addresses
                  // Rotation: a new secret, shown once with no-store; the old one signs for a grace period.
    let rotated = app
        .post(
            &format!("{path}/rotate-secret"),
            Some(&a.owner.access),
            json!({}),
        )
        .await;
    rotated.expect(200);
    assert_eq!(rotated.header("cache-control").as_deref(), Some("no-store"));
    let new_secret = rotated.str("secret");
    assert_ne!(new_secret, hook["secret"].as_str().unwrap());
    assert!(rotated.body["previous_secret_valid_until"].is_string());
    // At most ten per organisation (this one and nine more).
    for i in 0..9 {
        register(
            &app,
            &a.owner.access,
            &a.id,
            &format!("https://erp.hotel-alpenblick.example/{i}"),
            json!([]),
        )
        .await;
    }
    let eleventh = app
        .post(
            &hooks_path(&a.id),
            Some(&a.owner.access),
            json!({"url": "https://erp.hotel-alpenblick.example/11"}),
        )
        .await;
    eleventh.expect_problem(422);
    assert!(
        eleventh.str("detail").contains("at most 10"),
        "{}",
        eleventh.text
    );
    // Delete, then it is gone.
    app.delete(&path, Some(&a.owner.access)).await.expect(204);
    app.get(&path, Some(&a.owner.access))
        .await
        .expect_problem(404);
    app.delete(&path, Some(&a.owner.access))
        .await
        .expect_problem(404);
}

async fn a_delivery_out_of_retries_pauses_its_webhook_until_enabled(backend: Backend) {
    let app = local_app(backend).await;
    let receiver = Receiver::start().await;
    let owner = app.user("anna@hotel-alpenblick.example").await;
    let org = app.org(&owner, "Hotel Alpenblick").await;
    let hook = register(&app, &owner.access, &org, &receiver.url, json!([])).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let path = format!("{}/{id}", hooks_path(&org));
    receiver.status.store(500, Ordering::SeqCst);
    // No retry left after the first failure.
    let impatient = WebhookSettings {
        schedule: RetrySchedule {
            first: Duration::from_millis(50),
            give_up_after: Duration::ZERO,
        },
        ..local_delivery()
    };
    app.post(
        &format!("/api/v1/orgs/{org}/api-keys"),
        Some(&owner.access),
        json!({"name": "Kasse", "scopes": ["read"]}),
    )
    .await
    .expect(201);
    deliverer(&app, "runner-a", impatient.clone())
        .drain()
        .await
        .unwrap();
    assert_eq!(receiver.received().len(), 1);
    let read = app.get(&path, Some(&owner.access)).await;
    read.expect(200);
    assert_eq!(read.body["status"], "failing");
    assert_eq!(read.body["enabled"], false);
    assert!(read.body["failing_since"].is_string());
    let deliveries = app
        .get(&format!("{path}/deliveries"), Some(&owner.access))
        .await;
    let failed = deliveries.body["items"][0].clone();
    assert_eq!(failed["status"], "failed");
    assert!(failed["next_attempt_at"].is_null());
    // The organisation is told, in its feed.
    let feed = app
        .get(
            &format!("/api/v1/orgs/{org}/events?types=webhook.failing"),
            Some(&owner.access),
        )
        .await;
    feed.expect(200);
    assert_eq!(feed.body["items"][0]["data"]["id"], json!(id));
    assert_eq!(feed.body["items"][0]["data"]["status"], "failing");
    // Paused: new events are not queued for it, and nothing is redelivered.
    app.post(
        &format!("/api/v1/orgs/{org}/api-keys"),
        Some(&owner.access),
        json!({"name": "Lager", "scopes": ["read"]}),
    )
    .await
    .expect(201);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = '{id}'"
        )),
        1
    );
    let redeliver = format!(
        "{path}/deliveries/{}/redeliver",
        failed["id"].as_str().unwrap()
    );
    app.post(&redeliver, Some(&owner.access), json!({}))
        .await
        .expect_problem(409);
    // Enabled again, the failed delivery can be sent again and arrives.
    let enabled = app
        .patch(&path, Some(&owner.access), json!({"enabled": true}))
        .await;
    enabled.expect(200);
    assert_eq!(enabled.body["status"], "active");
    assert!(enabled.body["failing_since"].is_null());
    receiver.status.store(200, Ordering::SeqCst);
    app.post(&redeliver, Some(&owner.access), json!({}))
        .await
        .expect(202);
    deliverer(&app, "runner-a", local_delivery())
        .drain()
        .await
        .unwrap();
    let last = receiver.received().last().cloned().unwrap();
    assert_eq!(last.event_id, failed["event_id"].as_str().unwrap());

    // Finished deliveries go after the retention period; pending ones stay.
    app.sql("UPDATE webhook_deliveries SET created_at = '2000-01-01 00:00:00'");
    app.make_jobs_due();
    app.run_jobs("runner-a").await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status <> 'pending'"),
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM webhook_attempts"), 0);
}

async fn a_rotated_secret_signs_beside_the_new_one_and_a_dead_runners_claims_are_taken_over(
    backend: Backend,
) {
    let app = local_app(backend).await;
    let receiver = Receiver::start().await;
    let pair = pair(&app).await;
    let (a, b) = (&pair.a, &pair.b);
    let hook = register(
        &app,
        &a.owner.access,
        &a.id,
        &receiver.url,
        json!(["agreement.cancelled"]),
    )
    .await;
    let old_secret = hook["secret"].as_str().unwrap().to_owned();
    let path = format!("{}/{}", hooks_path(&a.id), hook["id"].as_str().unwrap());
    let rotated = app
        .post(
            &format!("{path}/rotate-secret"),
            Some(&a.owner.access),
            json!({}),
        )
        .await;
    rotated.expect(200);
    let new_secret = rotated.str("secret");
    // An agreement cancelled by the other side: both parties are told, a's webhook too.
    let agreement = crate::deals::agreement(&app, &pair, false).await;
    app.post(
        &format!("/api/v1/agreements/{agreement}/cancel"),
        Some(&b.owner.access),
        json!({"reason": "Der Termin ist leider entfallen."}),
    )
    .await
    .expect(200);
    // A runner died holding the delivery's claim; once its lease has run out, the next one
    // takes it over.
    app.sql(
        "UPDATE webhook_deliveries SET claimed_by = 'runner-dead', lease_until = '2999-01-01 00:00:00'",
    );
    deliverer(&app, "runner-a", local_delivery())
        .drain()
        .await
        .unwrap();
    assert!(receiver.received().is_empty(), "a live claim is left alone");
    app.sql("UPDATE webhook_deliveries SET lease_until = '2000-01-01 00:00:00'");
    deliverer(&app, "runner-b", local_delivery())
        .drain()
        .await
        .unwrap();
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let event: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(event["type"], "agreement.cancelled");
    assert_eq!(event["data"]["status"], "cancelled");
    // During the grace period both secrets sign: receivers switch without a gap.
    assert_eq!(
        got[0].signature.matches("v1=").count(),
        2,
        "{}",
        got[0].signature
    );
    assert!(verify(&new_secret, &got[0]));
    assert!(verify(&old_secret, &got[0]));
    // After it, only the new one.
    app.sql("UPDATE webhooks SET previous_secret_until = '2000-01-01 00:00:00'");
    let listed = app
        .get(&format!("{path}/deliveries"), Some(&a.owner.access))
        .await;
    let delivery = listed.body["items"][0]["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("{path}/deliveries/{delivery}/redeliver"),
        Some(&a.owner.access),
        json!({}),
    )
    .await
    .expect(202);
    deliverer(&app, "runner-b", local_delivery())
        .drain()
        .await
        .unwrap();
    let again = receiver.received().last().cloned().unwrap();
    assert_eq!(again.event_id, got[0].event_id);
    assert!(verify(&new_secret, &again) && !verify(&old_secret, &again));
    // Both parties' feeds have the cancellation.
    for (org, token) in [(&a.id, &a.owner.access), (&b.id, &b.owner.access)] {
        let feed = app
            .get(
                &format!("/api/v1/orgs/{org}/events?types=agreement.cancelled"),
                Some(token),
            )
            .await;
        feed.expect(200);
        assert_eq!(feed.body["items"].as_array().unwrap().len(), 1);
    }
}

async fn a_paused_webhooks_backlog_takes_no_slot_of_others(backend: Backend) {
    let app = local_app(backend).await;
    let receiver = Receiver::start().await;
    let owner = app.user("anna@hotel-alpenblick.example").await;
    let org = app.org(&owner, "Hotel Alpenblick").await;
    let paused = register(
        &app,
        &owner.access,
        &org,
        &format!("{}/alt", receiver.url),
        json!([]),
    )
    .await;
    let active = register(
        &app,
        &owner.access,
        &org,
        &format!("{}/neu", receiver.url),
        json!(["api_key.created"]),
    )
    .await;
    for i in 0..6 {
        app.post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            Some(&owner.access),
            json!({"name": format!("Kasse {i}"), "scopes": ["read"]}),
        )
        .await
        .expect(201);
    }
    let paused_id = paused["id"].as_str().unwrap();
    app.patch(
        &format!("{}/{paused_id}", hooks_path(&org)),
        Some(&owner.access),
        json!({"enabled": false}),
    )
    .await
    .expect(200);
    // Two slots, twelve due deliveries of which six belong to the paused webhook.
    let narrow = WebhookSettings {
        concurrency: 2,
        ..local_delivery()
    };
    deliverer(&app, "runner-a", narrow).drain().await.unwrap();
    assert_eq!(
        receiver.received().len(),
        6,
        "every delivery of the active webhook"
    );
    let active_id = active["id"].as_str().unwrap();
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = '{active_id}' AND status = 'delivered'")),
        6
    );
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = '{paused_id}' AND status = 'pending' AND claimed_by IS NULL")),
        6,
        "the paused webhook's deliveries wait, unclaimed"
    );
}
