//! Matching reads the tag postings (`listing_tags`, which copy each listing's status, kind,
//! region, trial flag, expiry, …) and the published-listing counts (`tag_stats`). These tests
//! change listings through the API and check that matching follows at once: direct edits of
//! a published listing (region, trial, expiry), weights that follow the published catalogue
//! exactly (publish, archive, remove, restore, approved tag edits; drafts, pending, rejected
//! and deleted listings never count), organisation suspension, and bad requests that the
//! matching tests do not cover yet.

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{enc, Backend, Resp};
use crate::market::{
    in_days, items, listing, listing_ids, need, offer, org_ids, partner, set, weight, world,
    Company, World, LISTINGS,
};

fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {value}"))
        .with_timezone(&Utc)
}

impl World {
    /// Deletes a listing (204) and checks its owner no longer finds it.
    async fn delete(&self, company: &Company, id: &str) {
        let deleted = self
            .app
            .delete(&format!("{LISTINGS}/{id}"), Some(&company.owner.access))
            .await;
        deleted.expect(204);
        self.app
            .get(&format!("{LISTINGS}/{id}"), Some(&company.owner.access))
            .await
            .expect_problem(404);
    }

    /// The listing's current version, as its owner reads it (from the `ETag`).
    async fn version(&self, company: &Company, id: &str) -> i64 {
        let read = self
            .app
            .get(&format!("{LISTINGS}/{id}"), Some(&company.owner.access))
            .await;
        read.expect(200);
        let version = read.body["version"].as_i64().expect("version");
        assert_eq!(read.header("etag"), Some(format!("\"{version}\"")));
        version
    }

    /// `PATCH /listings/{id}` with the current `If-Match`; must answer 200 with the next
    /// version and leave the listing published.
    async fn edit(&self, company: &Company, id: &str, body: Value) -> Resp {
        let version = self.version(company, id).await;
        let etag = format!("\"{version}\"");
        let resp = self
            .app
            .call(
                "PATCH",
                &format!("{LISTINGS}/{id}"),
                Some(&company.owner.access),
                Some(body),
                &[("If-Match", etag.as_str())],
            )
            .await;
        resp.expect(200);
        assert_eq!(resp.header("etag"), Some(format!("\"{}\"", version + 1)));
        assert_eq!(resp.body["version"], json!(version + 1));
        assert_eq!(resp.body["status"], "published", "{}", resp.text);
        resp
    }

    async fn org_status(&self, company: &Company, action: &str, reason: &str) -> Resp {
        let resp = self
            .app
            .post(
                &format!("/api/v1/moderation/orgs/{}/{action}", company.id),
                Some(&self.moderator.access),
                json!({ "reason": reason }),
            )
            .await;
        resp.expect(200);
        assert_eq!(resp.body["id"], json!(company.id));
        resp
    }

    /// The partners `company` sees, as a set.
    async fn partner_set(&self, company: &Company, query: &str) -> BTreeSet<String> {
        self.partners(company, query).await.into_iter().collect()
    }

    /// The listings that fit listing `id` (asked anonymously), as a set.
    async fn fits(&self, id: &str, query: &str) -> BTreeSet<String> {
        listing_ids(&self.listing_matches(None, id, query).await)
            .into_iter()
            .collect()
    }
}

fn number(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"))
}

/// The meeting in which partner `org`'s offer meets our need `need_id`.
fn meeting<'a>(resp: &'a Resp, org: &str, need_id: &str) -> &'a Value {
    partner(resp, org)["explanation"]["their_offers_meet_our_needs"]
        .as_array()
        .expect("their_offers_meet_our_needs")
        .iter()
        .find(|m| m["need_id"] == json!(need_id))
        .unwrap_or_else(|| panic!("no meeting of need {need_id} with {org} in {}", resp.text))
}

/// The documented weight of a tag carried by `df` of `published` published listings,
/// rounded to three decimals as the API shows it.
fn expected_weight(published: u32, df: u32) -> f64 {
    let exact = weight(published, df);
    (exact * 1000.0).round() / 1000.0
}

#[track_caller]
fn assert_weight(actual: f64, published: u32, df: u32, what: &str) {
    let expected = expected_weight(published, df);
    assert!(
        (actual - expected).abs() < 0.0005,
        "{what}: {actual} is not round(ln(1 + {published}/{df}), 3) = {expected:.3}"
    );
}

// ---------------------------------------------------------------------------------------
// Direct edits of a published listing
// ---------------------------------------------------------------------------------------

/// X needs a wine pairing; the winery W offers one in Bayern without a trial, the hotel C
/// offers one in Tirol with a trial.
async fn region_trial_and_expiry_edits_of_a_published_offer_reach_matching_at_once(
    backend: Backend,
) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let winery = w
        .company("leitung@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let hotel = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let x_need = w
        .publish(
            &x,
            need(
                "Weinbegleitung für unsere Gästeabende gesucht",
                &["weinbegleitung"],
            ),
        )
        .await;
    let wine_offer = w
        .publish(
            &winery,
            offer(
                "Weinbegleitung durch unsere Sommelière",
                &["weinbegleitung", "sommelier"],
            ),
        )
        .await;
    let mut body = listing(
        "offer",
        "Weinbegleitung beim Fünf-Gänge-Menü, erster Abend zur Probe",
        &["weinbegleitung"],
        "Tirol",
    );
    body["trial_available"] = json!(true);
    let hotel_offer = w.publish(&hotel, body).await;
    let both = set(&[&winery.id, &hotel.id]);
    let none = BTreeSet::new();

    // Where everyone starts.
    for (query, expected) in [
        ("", both.clone()),
        ("region=Bayern", set(&[&winery.id])),
        ("region=Tirol", set(&[&hotel.id])),
        ("region=Franken", none.clone()),
        ("trial=true", set(&[&hotel.id])),
        ("trial=false", set(&[&winery.id])),
    ] {
        assert_eq!(w.partner_set(&x, query).await, expected, "before: ?{query}");
    }
    assert_eq!(w.fits(&x_need, "region=Bayern").await, set(&[&wine_offer]));
    assert_eq!(w.fits(&x_need, "region=Franken").await, none);

    // A stale If-Match changes nothing, in the listing or in matching.
    let version = w.version(&winery, &wine_offer).await;
    let stale_tag = format!("\"{}\"", version - 1);
    let stale = w
        .app
        .call(
            "PATCH",
            &format!("{LISTINGS}/{wine_offer}"),
            Some(&winery.owner.access),
            Some(json!({"region": "Franken"})),
            &[("If-Match", stale_tag.as_str())],
        )
        .await;
    stale.expect_problem(412);
    assert_eq!(w.version(&winery, &wine_offer).await, version);
    assert_eq!(w.partner_set(&x, "region=Bayern").await, set(&[&winery.id]));
    assert_eq!(w.partner_set(&x, "region=Franken").await, none);

    // Region: a direct field, public and matched at once (no review).
    let moved = w
        .edit(&winery, &wine_offer, json!({"region": "Franken"}))
        .await;
    assert_eq!(moved.body["region"], "Franken");
    assert_eq!(moved.body["tags"], json!(["weinbegleitung", "sommelier"]));
    assert!(
        moved.body.get("pending_changes").is_none(),
        "a region change is no text edit: {}",
        moved.text
    );
    let public = w.app.get(&format!("{LISTINGS}/{wine_offer}"), None).await;
    public.expect(200);
    assert_eq!(public.body["region"], "Franken");
    for (query, expected) in [
        ("", both.clone()),
        ("region=Bayern", none.clone()),
        ("region=Franken", set(&[&winery.id])),
        ("region=Tirol", set(&[&hotel.id])),
    ] {
        assert_eq!(w.partner_set(&x, query).await, expected, "moved: ?{query}");
    }
    assert_eq!(w.fits(&x_need, "region=Bayern").await, none);
    assert_eq!(w.fits(&x_need, "region=Franken").await, set(&[&wine_offer]));
    assert_eq!(w.fits(&x_need, "").await, set(&[&wine_offer, &hotel_offer]));

    // Trial offered: found with trial=true, no longer with trial=false.
    let trial = w
        .edit(&winery, &wine_offer, json!({"trial_available": true}))
        .await;
    assert_eq!(trial.body["trial_available"], json!(true));
    assert_eq!(trial.body["region"], "Franken", "absent fields stay");
    for (query, expected) in [
        ("trial=true", both.clone()),
        ("trial=false", none.clone()),
        ("trial=true&region=Franken", set(&[&winery.id])),
    ] {
        assert_eq!(w.partner_set(&x, query).await, expected, "trial: ?{query}");
    }
    assert_eq!(
        w.fits(&x_need, "trial=true").await,
        set(&[&wine_offer, &hotel_offer])
    );
    assert_eq!(w.fits(&x_need, "trial=false").await, none);
    // … and withdrawn again.
    let no_trial = w
        .edit(&winery, &wine_offer, json!({"trial_available": false}))
        .await;
    assert_eq!(no_trial.body["trial_available"], json!(false));
    assert_eq!(w.partner_set(&x, "trial=true").await, set(&[&hotel.id]));
    assert_eq!(w.partner_set(&x, "trial=false").await, set(&[&winery.id]));
    assert_eq!(w.fits(&x_need, "trial=false").await, set(&[&wine_offer]));

    // An expiry in the future keeps it.
    let until = in_days(30);
    let expiring = w
        .edit(&winery, &wine_offer, json!({"expires_at": until}))
        .await;
    assert_eq!(
        instant(&expiring.body["expires_at"]),
        instant(&json!(until))
    );
    assert_eq!(w.partner_set(&x, "").await, both);
    assert_eq!(
        w.partner_set(&x, "region=Franken").await,
        set(&[&winery.id])
    );
    assert_eq!(w.fits(&x_need, "").await, set(&[&wine_offer, &hotel_offer]));

    // Once that date has passed it is gone: from matches, by id and its own matches.
    w.app.expire_listing(&wine_offer);
    assert_eq!(w.partner_set(&x, "").await, set(&[&hotel.id]));
    assert_eq!(w.partner_set(&x, "region=Franken").await, none);
    assert_eq!(w.fits(&x_need, "").await, set(&[&hotel_offer]));
    w.app
        .get(&format!("{LISTINGS}/{wine_offer}"), None)
        .await
        .expect_problem(404);
    w.app
        .get(&format!("{LISTINGS}/{wine_offer}/matches"), None)
        .await
        .expect_problem(404);

    // Extended again: back at once.
    let later = in_days(60);
    let extended = w
        .edit(&winery, &wine_offer, json!({"expires_at": later}))
        .await;
    assert_eq!(
        instant(&extended.body["expires_at"]),
        instant(&json!(later))
    );
    assert_eq!(w.partner_set(&x, "").await, both);
    assert_eq!(
        w.partner_set(&x, "region=Franken").await,
        set(&[&winery.id])
    );
    assert_eq!(w.fits(&x_need, "region=Franken").await, set(&[&wine_offer]));

    // No expiry and no region: still matched without filters, not under a region.
    let open = w
        .edit(
            &winery,
            &wine_offer,
            json!({"expires_at": null, "region": null}),
        )
        .await;
    assert!(open.body["expires_at"].is_null(), "{}", open.text);
    assert!(open.body["region"].is_null(), "{}", open.text);
    assert_eq!(w.partner_set(&x, "").await, both);
    assert_eq!(w.partner_set(&x, "region=Franken").await, none);
    assert_eq!(w.partner_set(&x, "region=Bayern").await, none);
    assert_eq!(w.fits(&x_need, "").await, set(&[&wine_offer, &hotel_offer]));
    assert_eq!(w.fits(&x_need, "region=Franken").await, none);

    // The winery still sees X (X's need did not change).
    assert_eq!(w.partner_set(&winery, "").await, set(&[&x.id]));
    let resp = w.listing_matches(None, &wine_offer, "").await;
    assert_eq!(listing_ids(&resp), vec![x_need.clone()]);
}

// ---------------------------------------------------------------------------------------
// Weights follow the published catalogue
// ---------------------------------------------------------------------------------------

/// Asserts the weight of `need`'s meeting with each of `partners` (one offer each, through
/// `tag` alone), seen by `x` and in the need's listing matches, with `published` listings
/// of which `df` carry the tag.
async fn check_weights(
    w: &World,
    x: &Company,
    need: &str,
    partners: &[(&Company, &String)],
    tag: &str,
    (published, df): (u32, u32),
    when: &str,
) {
    let resp = w.matches(&x.owner.access, &x.id, "").await;
    let mut expected_orgs: Vec<&String> = partners.iter().map(|(c, _)| &c.id).collect();
    expected_orgs.sort();
    let mut got = org_ids(&resp);
    got.sort();
    assert_eq!(
        got.iter().collect::<Vec<_>>(),
        expected_orgs,
        "{when}: partners: {}",
        resp.text
    );
    for (company, offer_id) in partners {
        let m = meeting(&resp, &company.id, need);
        assert_eq!(m["offer_id"], json!(offer_id), "{when}: {m}");
        assert_eq!(m["tags"], json!([tag]), "{when}: {m}");
        let what = format!("{when}: meeting weight");
        assert_weight(number(&m["weight"], "weight"), published, df, &what);
        let p = partner(&resp, &company.id);
        let what = format!("{when}: partner score");
        assert_weight(number(&p["score"], "score"), published, df, &what);
    }
    let fitting = w.listing_matches(None, need, "").await;
    let mut expected_offers: Vec<&String> = partners.iter().map(|(_, o)| *o).collect();
    expected_offers.sort();
    let mut got = listing_ids(&fitting);
    got.sort();
    assert_eq!(
        got.iter().collect::<Vec<_>>(),
        expected_offers,
        "{when}: fitting offers: {}",
        fitting.text
    );
    for item in items(&fitting) {
        assert_eq!(item["tags"], json!([tag]), "{when}: {item}");
        let what = format!("{when}: listing match score");
        assert_weight(number(&item["score"], "score"), published, df, &what);
    }
}

async fn weights_count_exactly_the_published_listings_carrying_a_tag(backend: Backend) {
    let w = world(backend).await;
    let hotel = w
        .company("empfang@hotel-seeblick.example", "Hotel Seeblick")
        .await;
    let bakery = w
        .company("backstube@baeckerei-huber.example", "Bäckerei Huber")
        .await;
    let winery = w
        .company("leitung@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let krume = w
        .company("hallo@backstube-krume.example", "Backstube Krume")
        .await;

    let x_need = w
        .publish(
            &hotel,
            need(
                "Sauerteigbrot für das Frühstücksbuffet gesucht",
                &["sauerteigbrot"],
            ),
        )
        .await;
    w.publish(
        &hotel,
        offer("Tagungsraum mit Seeblick für Teamtage", &["tagungsraum"]),
    )
    .await;
    let bread = w
        .publish(
            &bakery,
            offer(
                "Sauerteigbrot aus dem Holzofen, täglich geliefert",
                &["sauerteigbrot", "holzofen"],
            ),
        )
        .await;
    w.publish(&winery, offer("Weinprobe im Gewölbekeller", &["weinprobe"]))
        .await;
    w.publish(
        &winery,
        need("Gestaltung neuer Flaschenetiketten gesucht", &["etiketten"]),
    )
    .await;
    let tag = "sauerteigbrot";
    // Five published listings, two of them carry the tag.
    let (mut published, mut df) = (5, 2);
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread)],
        tag,
        (published, df),
        "start",
    )
    .await;

    // Another bakery publishes bread: the tag is more common, its weight drops.
    let rye = w
        .publish(
            &krume,
            offer(
                "Sauerteigbrot und Roggenbrot im Wochenabo",
                &[tag, "roggenbrot"],
            ),
        )
        .await;
    (published, df) = (published + 1, df + 1);
    assert!(expected_weight(published, df) < expected_weight(5, 2));
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread), (&krume, &rye)],
        tag,
        (published, df),
        "after publishing a second offer",
    )
    .await;

    // Archived: it no longer counts.
    w.archive(&krume, &rye).await;
    (published, df) = (published - 1, df - 1);
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread)],
        tag,
        (published, df),
        "after archiving it",
    )
    .await;

    // Published and removed by a moderator: the same; restored: counts again.
    let spelt = w
        .publish(
            &krume,
            offer("Sauerteigbrot aus Dinkel für Hotels", &[tag, "dinkel"]),
        )
        .await;
    (published, df) = (published + 1, df + 1);
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread), (&krume, &spelt)],
        tag,
        (published, df),
        "after publishing a third offer",
    )
    .await;
    w.remove(&spelt).await;
    (published, df) = (published - 1, df - 1);
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread)],
        tag,
        (published, df),
        "after a moderator removed it",
    )
    .await;
    w.restore(&spelt).await;
    (published, df) = (published + 1, df + 1);
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread), (&krume, &spelt)],
        tag,
        (published, df),
        "after a moderator restored it",
    )
    .await;
    w.remove(&spelt).await;
    (published, df) = (published - 1, df - 1);

    // A published listing without the tag counts in N only: the tag gets rarer.
    w.publish(
        &winery,
        offer("Kellerführung für Hotelgäste", &["kellerfuehrung"]),
    )
    .await;
    published += 1;
    assert!(expected_weight(published, df) > expected_weight(published - 1, df));
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread)],
        tag,
        (published, df),
        "after publishing an unrelated offer",
    )
    .await;

    // Drafts, pending and rejected listings carrying the tag count for nothing.
    let drafted = w
        .draft(&krume, offer("Entwurf: Sauerteigbrot vom Vortag", &[tag]))
        .await;
    let waiting = w
        .pending(&krume, offer("Wartet: Sauerteigbrot-Kurs", &[tag]))
        .await;
    let refused = w
        .pending(&krume, offer("Abgelehnt: Sauerteigbrot gratis", &[tag]))
        .await;
    let rejected = w.reject(&refused).await;
    assert_eq!(rejected.body["status"], "rejected");
    // A draft edited to carry the tag does not count either.
    let retagged = w
        .draft(&krume, need("Entwurf: Roggenmehl gesucht", &["roggenmehl"]))
        .await;
    let edited = w
        .app
        .patch(
            &format!("{LISTINGS}/{retagged}"),
            Some(&krume.owner.access),
            json!({"tags": [tag, "roggenmehl"]}),
        )
        .await;
    edited.expect(200);
    assert_eq!(edited.body["tags"], json!([tag, "roggenmehl"]));
    assert_eq!(edited.body["status"], "draft");
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread)],
        tag,
        (published, df),
        "with a draft, a pending and a rejected listing carrying the tag",
    )
    .await;

    // Deleting a draft, a rejected and an archived listing changes nothing.
    w.delete(&krume, &drafted).await;
    w.delete(&krume, &refused).await;
    w.delete(&krume, &rye).await;
    w.delete(&krume, &retagged).await;
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread)],
        tag,
        (published, df),
        "after deleting a draft, a rejected and an archived listing",
    )
    .await;

    // The pending one, once approved, counts.
    w.approve(&waiting).await;
    (published, df) = (published + 1, df + 1);
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread), (&krume, &waiting)],
        tag,
        (published, df),
        "after approving the pending listing",
    )
    .await;

    // A report resolved with `remove_listing` takes it out of the counts like `remove`.
    let reported = w
        .app
        .post(
            "/api/v1/reports",
            Some(&hotel.owner.access),
            json!({
                "target_type": "listing",
                "target_id": waiting,
                "reason": "misleading",
                "details": "Der Kurs findet laut Telefonat gar nicht statt.",
            }),
        )
        .await;
    reported.expect(201);
    let resolved = w
        .app
        .post(
            &format!("/api/v1/moderation/reports/{}/resolve", reported.str("id")),
            Some(&w.moderator.access),
            json!({"action": "remove_listing", "note": "Irreführendes Angebot, entfernt."}),
        )
        .await;
    resolved.expect(200);
    assert_eq!(resolved.body["resolution"], "remove_listing");
    (published, df) = (published - 1, df - 1);
    check_weights(
        &w,
        &hotel,
        &x_need,
        &[(&bakery, &bread)],
        tag,
        (published, df),
        "after a report removed it",
    )
    .await;
}

/// X needs sourdough bread and spelt bread. The bakery B and the café C offer sourdough,
/// the mill D offers spelt. B's tag edit waits for review; approved, B moves from one tag
/// to the other and both weights change.
async fn an_approved_tag_edit_moves_the_listing_between_tags_and_their_weights(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("empfang@hotel-seeblick.example", "Hotel Seeblick")
        .await;
    let bakery = w
        .company("backstube@baeckerei-huber.example", "Bäckerei Huber")
        .await;
    let cafe = w.company("service@cafe-kranz.example", "Café Kranz").await;
    let mill = w
        .company("mueller@muehle-am-bach.example", "Mühle am Bach")
        .await;
    let sour = "sauerteigbrot";
    let spelt = "dinkelbrot";
    let need_sour = w
        .publish(&x, need("Sauerteigbrot für das Frühstück gesucht", &[sour]))
        .await;
    let need_spelt = w
        .publish(
            &x,
            need("Dinkelbrot für Gäste mit Unverträglichkeit", &[spelt]),
        )
        .await;
    let bread = w
        .publish(&bakery, offer("Sauerteigbrot aus dem Holzofen", &[sour]))
        .await;
    let cafe_bread = w
        .publish(&cafe, offer("Hausgebackenes Sauerteigbrot", &[sour]))
        .await;
    let mill_bread = w
        .publish(&mill, offer("Dinkelbrot aus eigenem Mehl", &[spelt]))
        .await;
    // Five published listings: sourdough on three, spelt on two.
    let before = |resp: &Resp| {
        assert_eq!(
            org_ids(resp).into_iter().collect::<BTreeSet<_>>(),
            set(&[&bakery.id, &cafe.id, &mill.id]),
            "{}",
            resp.text
        );
        for org in [&bakery.id, &cafe.id] {
            let m = meeting(resp, org, &need_sour);
            assert_weight(number(&m["weight"], "weight"), 5, 3, "sourdough before");
        }
        let m = meeting(resp, &mill.id, &need_spelt);
        assert_weight(number(&m["weight"], "weight"), 5, 2, "spelt before");
        assert_eq!(
            partner(resp, &bakery.id)["explanation"]["their_offers_meet_our_needs"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    };
    before(&w.matches(&x.owner.access, &x.id, "").await);

    // The edit waits for review: public text, postings and weights stay.
    let edited = w
        .edit(&bakery, &bread, json!({"tags": [spelt, "vollkorn"]}))
        .await;
    assert_eq!(edited.body["tags"], json!([sour]));
    assert_eq!(
        edited.body["pending_changes"]["tags"],
        json!([spelt, "vollkorn"])
    );
    before(&w.matches(&x.owner.access, &x.id, "").await);
    assert_eq!(w.fits(&need_sour, "").await, set(&[&bread, &cafe_bread]));
    assert_eq!(w.fits(&need_spelt, "").await, set(&[&mill_bread]));

    // Approved: sourdough is now on two listings, spelt on three.
    let approved = w.approve(&bread).await;
    assert_eq!(approved.body["tags"], json!([spelt, "vollkorn"]));
    let resp = w.matches(&x.owner.access, &x.id, "").await;
    assert_eq!(
        org_ids(&resp).into_iter().collect::<BTreeSet<_>>(),
        set(&[&bakery.id, &cafe.id, &mill.id]),
        "{}",
        resp.text
    );
    let m = meeting(&resp, &cafe.id, &need_sour);
    assert_weight(number(&m["weight"], "weight"), 5, 2, "sourdough after");
    for (org, offer_id) in [(&bakery.id, &bread), (&mill.id, &mill_bread)] {
        let m = meeting(&resp, org, &need_spelt);
        assert_eq!(m["offer_id"], json!(offer_id));
        assert_eq!(m["tags"], json!([spelt]));
        assert_weight(number(&m["weight"], "weight"), 5, 3, "spelt after");
    }
    let theirs = partner(&resp, &bakery.id)["explanation"]["their_offers_meet_our_needs"]
        .as_array()
        .expect("array");
    assert_eq!(
        theirs.len(),
        1,
        "the bakery no longer meets sourdough: {}",
        resp.text
    );
    assert_eq!(w.fits(&need_sour, "").await, set(&[&cafe_bread]));
    let fitting = w.listing_matches(None, &need_spelt, "").await;
    assert_eq!(
        listing_ids(&fitting).into_iter().collect::<BTreeSet<_>>(),
        set(&[&bread, &mill_bread])
    );
    for item in items(&fitting) {
        assert_weight(number(&item["score"], "score"), 5, 3, "spelt listing match");
    }
    let fitting = w.listing_matches(None, &need_sour, "").await;
    assert_weight(
        number(&items(&fitting)[0]["score"], "score"),
        5,
        2,
        "sourdough listing match",
    );

    // Another edit back to sourdough, rejected: nothing moves.
    let edited = w.edit(&bakery, &bread, json!({"tags": [sour]})).await;
    assert_eq!(edited.body["tags"], json!([spelt, "vollkorn"]));
    let rejected = w.reject(&bread).await;
    assert_eq!(rejected.body["status"], "published");
    assert_eq!(rejected.body["tags"], json!([spelt, "vollkorn"]));
    let again = w.matches(&x.owner.access, &x.id, "").await;
    assert_eq!(again.body, resp.body, "a rejected edit changes no match");
    assert_eq!(w.fits(&need_sour, "").await, set(&[&cafe_bread]));
}

/// What matching filters on is what the listing carried when it was published, after any
/// edits of the draft (category and industry can only change before publication).
async fn draft_edits_of_category_and_industry_are_what_matching_filters_on(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let winery = w
        .company("leitung@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    w.publish(
        &x,
        need("Weinkeller für eine Verkostung gesucht", &["weinkeller"]),
    )
    .await;
    let mut body = offer("Unser Gewölbekeller für Verkostungen", &["weinkeller"]);
    body["category"] = json!("resource");
    body["industry"] = json!("weinbau");
    let cellar = w.draft(&winery, body).await;
    let edited = w
        .app
        .patch(
            &format!("{LISTINGS}/{cellar}"),
            Some(&winery.owner.access),
            json!({"category": "expertise", "industry": "Hospitality"}),
        )
        .await;
    edited.expect(200);
    assert_eq!(edited.body["category"], "expertise");
    assert_eq!(edited.body["industry"], "hospitality");
    w.submit(&winery, &cellar).await;
    w.approve(&cellar).await;

    for (query, expected) in [
        ("", set(&[&winery.id])),
        ("category=expertise", set(&[&winery.id])),
        ("category=resource", BTreeSet::new()),
        ("industry=weinbau", BTreeSet::new()),
        ("industry=any", set(&[&winery.id])),
    ] {
        assert_eq!(w.partner_set(&x, query).await, expected, "?{query}");
    }
    // Published, they cannot change any more (409), and matching stays as it was.
    let refused = w
        .app
        .patch(
            &format!("{LISTINGS}/{cellar}"),
            Some(&winery.owner.access),
            json!({"category": "resource"}),
        )
        .await;
    refused.expect_problem(409);
    assert_eq!(
        w.partner_set(&x, "category=expertise").await,
        set(&[&winery.id])
    );
    assert_eq!(
        w.partner_set(&x, "category=resource").await,
        BTreeSet::new()
    );
}

// ---------------------------------------------------------------------------------------
// Suspension
// ---------------------------------------------------------------------------------------

/// X needs wood-fired bread and offers a seminar room. The bakery B offers the bread and
/// needs a room (reciprocal); the bakehouse C offers bread only (one-sided).
async fn a_suspended_organisations_listings_leave_matching_until_it_is_reinstated(
    backend: Backend,
) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let bakery = w
        .company("backstube@baeckerei-huber.example", "Bäckerei Huber")
        .await;
    let krume = w
        .company("hallo@backstube-krume.example", "Backstube Krume")
        .await;
    let x_need = w
        .publish(
            &x,
            need("Holzofenbrot für das Frühstück gesucht", &["holzofenbrot"]),
        )
        .await;
    let x_offer = w
        .publish(
            &x,
            offer("Seminarraum für Betriebsausflüge", &["seminarraum"]),
        )
        .await;
    let bread = w
        .publish(
            &bakery,
            offer("Holzofenbrot täglich frisch", &["holzofenbrot"]),
        )
        .await;
    let bakery_need = w
        .publish(
            &bakery,
            need("Seminarraum für die Lehrlingsschulung", &["seminarraum"]),
        )
        .await;
    let krume_bread = w
        .publish(
            &krume,
            offer("Holzofenbrot im Wochenabo", &["holzofenbrot"]),
        )
        .await;

    let before = w.matches(&x.owner.access, &x.id, "").await;
    assert_eq!(
        org_ids(&before),
        vec![bakery.id.clone(), krume.id.clone()],
        "{}",
        before.text
    );
    assert_eq!(items(&before)[0]["reciprocal"], json!(true));
    assert_eq!(items(&before)[1]["reciprocal"], json!(false));
    let need_fits_before = w.listing_matches(None, &x_need, "").await;
    assert_eq!(
        listing_ids(&need_fits_before)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        set(&[&bread, &krume_bread])
    );
    let offer_fits_before = w.listing_matches(None, &x_offer, "").await;
    assert_eq!(listing_ids(&offer_fits_before), vec![bakery_need.clone()]);

    // A moderator suspends the bakery.
    let suspended = w
        .org_status(
            &bakery,
            "suspend",
            "Druck durch Geschenke gegenüber mehreren Partnern belegt.",
        )
        .await;
    assert_eq!(suspended.body["status"], "suspended");
    let profile = w
        .app
        .get(&format!("/api/v1/orgs/{}", bakery.id), None)
        .await;
    profile.expect(200);
    assert_eq!(profile.body["status"], "suspended");

    for query in ["", "industry=any", "region=Bayern", "limit=100"] {
        let resp = w.matches(&x.owner.access, &x.id, query).await;
        assert_eq!(
            org_ids(&resp),
            vec![krume.id.clone()],
            "?{query}: {}",
            resp.text
        );
        assert_eq!(items(&resp)[0]["reciprocal"], json!(false));
    }
    assert_eq!(w.fits(&x_need, "").await, set(&[&krume_bread]));
    assert_eq!(w.fits(&x_offer, "").await, BTreeSet::new());
    assert_eq!(w.partner_set(&krume, "").await, set(&[&x.id]));
    for id in [&bread, &bakery_need] {
        w.app
            .get(&format!("{LISTINGS}/{id}"), None)
            .await
            .expect_problem(404);
        w.app
            .get(&format!("{LISTINGS}/{id}/matches"), None)
            .await
            .expect_problem(404);
        w.app
            .get(&format!("{LISTINGS}/{id}/matches"), Some(&x.owner.access))
            .await
            .expect_problem(404);
    }

    // Reinstated: everything as before, scores and explanations included.
    let back = w
        .org_status(&bakery, "unsuspend", "Einspruch geprüft und angenommen.")
        .await;
    assert_eq!(back.body["status"], "active");
    let after = w.matches(&x.owner.access, &x.id, "").await;
    assert_eq!(after.body, before.body, "matches after reinstatement");
    let need_fits_after = w.listing_matches(None, &x_need, "").await;
    assert_eq!(need_fits_after.body, need_fits_before.body);
    let offer_fits_after = w.listing_matches(None, &x_offer, "").await;
    assert_eq!(offer_fits_after.body, offer_fits_before.body);
    w.app
        .get(&format!("{LISTINGS}/{bread}"), None)
        .await
        .expect(200);
}

// ---------------------------------------------------------------------------------------
// Bad requests not covered by the matching tests
// ---------------------------------------------------------------------------------------

async fn malformed_ids_foreign_cursors_and_revoked_keys_are_refused(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let hotel = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let x_need = w
        .publish(
            &x,
            need(
                "Kundenservice-Schulung für das Empfangsteam",
                &["kundenservice"],
            ),
        )
        .await;
    w.publish(
        &hotel,
        offer(
            "Aussergewöhnlicher Kundenservice: Workshop",
            &["kundenservice"],
        ),
    )
    .await;
    w.publish(
        &hotel,
        offer("Kundenservice am Telefon", &["kundenservice"]),
    )
    .await;
    let org_path = format!("/api/v1/orgs/{}/matches", x.id);
    let need_path = format!("{LISTINGS}/{x_need}/matches");

    // Ids that are no UUIDs: 400, not 404 or 500.
    w.app
        .get("/api/v1/orgs/gasthof-sonne/matches", Some(&x.owner.access))
        .await
        .expect_problem(400);
    w.app
        .get(&format!("{LISTINGS}/12345/matches"), None)
        .await
        .expect_problem(400);

    // A cursor another list issued (the catalogue's newest-first id cursor), keyed cursors
    // with a bad key or id, and limits that are no number in range.
    let catalogue = w
        .app
        .get(&format!("{LISTINGS}?sort=newest&limit=1"), None)
        .await;
    catalogue.expect(200);
    let foreign = catalogue.body["next_cursor"]
        .as_str()
        .expect("the catalogue has a second page")
        .to_owned();
    let some_id = uuid::Uuid::new_v4();
    let bad_key = URL_SAFE_NO_PAD.encode(format!("k:viel:{some_id}"));
    let bad_id = URL_SAFE_NO_PAD.encode("k:693:gasthof-sonne");
    for query in [
        format!("cursor={}", enc(&foreign)),
        format!("cursor={bad_key}"),
        format!("cursor={bad_id}"),
        "limit=99999999999999999999".to_owned(),
        "limit=2.5".to_owned(),
    ] {
        let resp = w
            .app
            .get(&format!("{org_path}?{query}"), Some(&x.owner.access))
            .await;
        resp.expect_problem(400);
        let resp = w.app.get(&format!("{need_path}?{query}"), None).await;
        resp.expect_problem(400);
    }
    // The matches' own cursors work (and name the cursor when refused).
    let first = w.listing_matches(None, &x_need, "limit=1").await;
    let own = first.body["next_cursor"].as_str().expect("a second page");
    let second = w
        .listing_matches(None, &x_need, &format!("limit=1&cursor={}", enc(own)))
        .await;
    assert_eq!(items(&second).len(), 1, "{}", second.text);
    let refused = w
        .app
        .get(
            &format!("{org_path}?cursor={}", enc(&foreign)),
            Some(&x.owner.access),
        )
        .await;
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cursor")),
        "{}",
        refused.text
    );

    // A revoked key: 401 at once, while another key keeps working.
    let created = w
        .app
        .post(
            &format!("/api/v1/orgs/{}/api-keys", x.id),
            Some(&x.owner.access),
            json!({"name": "Kassensystem", "scopes": ["read"]}),
        )
        .await;
    created.expect(201);
    let (key_id, key) = (created.str("id"), created.str("key"));
    let keeper = w.app.api_key(&x.id, &x.owner, &["read"]).await;
    w.app.get(&org_path, Some(&key)).await.expect(200);
    w.app
        .delete(
            &format!("/api/v1/orgs/{}/api-keys/{key_id}", x.id),
            Some(&x.owner.access),
        )
        .await
        .expect(204);
    w.app.get(&org_path, Some(&key)).await.expect_problem(401);
    let kept = w.app.get(&org_path, Some(&keeper)).await;
    kept.expect(200);
    assert_eq!(org_ids(&kept), vec![hotel.id.clone()]);
}

async fn matches_of_archived_rejected_and_removed_listings_are_private(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let hotel = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let hotel_offer = w
        .publish(
            &hotel,
            offer("Weinbegleitung beim Gala-Dinner", &["weinbegleitung"]),
        )
        .await;
    let archived = w
        .publish(&x, need("Archiviert: Weinbegleitung", &["weinbegleitung"]))
        .await;
    w.archive(&x, &archived).await;
    let rejected = w
        .pending(&x, need("Abgelehnt: Weinbegleitung", &["weinbegleitung"]))
        .await;
    w.reject(&rejected).await;
    let removed = w
        .publish(&x, need("Entfernt: Weinbegleitung", &["weinbegleitung"]))
        .await;
    w.remove(&removed).await;
    let hotel_key = w.app.api_key(&hotel.id, &hotel.owner, &["read"]).await;
    let x_key = w.app.api_key(&x.id, &x.owner, &["read"]).await;

    for id in [&archived, &rejected, &removed] {
        let path = format!("{LISTINGS}/{id}/matches");
        for token in [
            None,
            Some(hotel.owner.access.as_str()),
            Some(hotel_key.as_str()),
        ] {
            let resp = w.app.get(&path, token).await;
            resp.expect_problem(404);
            assert!(
                !resp.text.contains(&hotel_offer),
                "nothing leaks: {}",
                resp.text
            );
        }
        for token in [
            x.owner.access.as_str(),
            x_key.as_str(),
            w.moderator.access.as_str(),
        ] {
            let resp = w.listing_matches(Some(token), id, "").await;
            assert_eq!(
                listing_ids(&resp),
                vec![hotel_offer.clone()],
                "{}",
                resp.text
            );
        }
    }
    // None of them is X's live need, so the hotel sees no partner.
    assert!(w.partner_set(&hotel, "").await.is_empty());
}

backends!(
    region_trial_and_expiry_edits_of_a_published_offer_reach_matching_at_once,
    weights_count_exactly_the_published_listings_carrying_a_tag,
    an_approved_tag_edit_moves_the_listing_between_tags_and_their_weights,
    draft_edits_of_category_and_industry_are_what_matching_filters_on,
    a_suspended_organisations_listings_leave_matching_until_it_is_reinstated,
    malformed_ids_foreign_cursors_and_revoked_keys_are_refused,
    matches_of_archived_rejected_and_removed_listings_are_private,
);
