//! Complementary matching: `GET /api/v1/orgs/{org_id}/matches` and
//! `GET /api/v1/listings/{id}/matches` over hand-built marketplaces whose correct ranking
//! is known — reciprocal before one-sided, rare tags before common ones, more covered needs
//! before fewer, explanations naming both directions, what is never matched, results that
//! follow moderation at once, filters, cursor pages, authorisation and bad input.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{enc, Backend};
use crate::market::{
    items, listing_ids, need, next_cursor, offer, org_ids, partner, weight, world, Company, World,
    LISTINGS,
};

impl World {
    /// An organisation of another industry.
    async fn company_in(&self, email: &str, name: &str, industry: &str) -> Company {
        let owner = self.app.user(email).await;
        let created = self
            .app
            .post(
                "/api/v1/orgs",
                Some(&owner.access),
                json!({"name": name, "industry": industry, "region": "Bayern"}),
            )
            .await;
        created.expect(201);
        assert_eq!(created.body["industry"], json!(industry));
        Company {
            owner,
            id: created.str("id"),
        }
    }

    fn expire(&self, id: &str) {
        self.app.expire_listing(id);
    }

    fn suspend(&self, company: &Company) {
        self.app.suspend_org_in_db(&company.id);
    }
}

fn score(item: &Value) -> f64 {
    item["score"]
        .as_f64()
        .unwrap_or_else(|| panic!("no numeric score in {item}"))
}

#[track_caller]
fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 0.0025,
        "{what}: {actual} is not {expected:.3}"
    );
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut out: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------
// Ranking
// ---------------------------------------------------------------------------------------

/// X needs customer service (plus two specific wine tags) and offers a seminar room.
/// R offers customer service and needs a seminar room (reciprocal); S offers customer
/// service and both wine tags (one-sided, more overlap).
struct Reciprocal {
    w: World,
    x: Company,
    r: Company,
    s: Company,
    x_need: String,
    x_offer: String,
    r_offer: String,
    r_need: String,
    s_offer: String,
}

const X_NEED: &str = "Kundenservice-Schulung mit Sommelierkurs gesucht";
const X_OFFER: &str = "Seminarraum für 20 Personen";
const R_OFFER: &str = "Kundenservice-Training für Empfangsteams";
const R_NEED: &str = "Seminarraum für Klausurtagung gesucht";
const S_OFFER: &str = "Sommelierkurs mit Weinprobe und Servicetraining";

async fn reciprocal(backend: Backend) -> Reciprocal {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let r = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let s = w
        .company("leitung@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let x_need = w
        .publish(
            &x,
            need(X_NEED, &["kundenservice", "sommelier-kurs", "weinprobe"]),
        )
        .await;
    let x_offer = w.publish(&x, offer(X_OFFER, &["seminarraum"])).await;
    let r_offer = w.publish(&r, offer(R_OFFER, &["kundenservice"])).await;
    let r_need = w.publish(&r, need(R_NEED, &["seminarraum"])).await;
    let s_offer = w
        .publish(
            &s,
            offer(S_OFFER, &["kundenservice", "sommelier-kurs", "weinprobe"]),
        )
        .await;
    Reciprocal {
        w,
        x,
        r,
        s,
        x_need,
        x_offer,
        r_offer,
        r_need,
        s_offer,
    }
}

async fn reciprocal_partner_ranks_above_a_higher_scoring_one_sided_partner(backend: Backend) {
    let f = reciprocal(backend).await;
    let resp = f.w.matches(&f.x.owner.access, &f.x.id, "").await;
    assert_eq!(org_ids(&resp), vec![f.r.id.clone(), f.s.id.clone()]);
    let (r, s) = (&items(&resp)[0], &items(&resp)[1]);
    assert_eq!(r["reciprocal"], json!(true), "{r}");
    assert_eq!(s["reciprocal"], json!(false), "{s}");
    assert!(
        score(s) > score(r),
        "the fixture needs the one-sided partner to score higher: {}",
        resp.text
    );
    assert_eq!(r["name"], "Hotel Alpenblick");
    assert_eq!(s["name"], "Weingut Morgenrot");
    assert_eq!(r["region"], "Bayern");

    // 5 published listings; kundenservice on 3, each other tag on 2.
    let (common, rare) = (weight(5, 3), weight(5, 2));
    assert_close(score(r), common + rare, "R's score");
    assert_close(score(s), common + 2.0 * rare, "S's score");
    assert_eq!(next_cursor(&resp), None);

    // The same ranking from the partners' side: X is reciprocal for R, one-sided for S.
    let from_r = f.w.matches(&f.r.owner.access, &f.r.id, "").await;
    assert_eq!(org_ids(&from_r), vec![f.x.id.clone()]);
    assert_eq!(items(&from_r)[0]["reciprocal"], json!(true));
    assert_close(score(&items(&from_r)[0]), common + rare, "X seen by R");
    let from_s = f.w.matches(&f.s.owner.access, &f.s.id, "").await;
    assert_eq!(org_ids(&from_s), vec![f.x.id.clone()]);
    assert_eq!(items(&from_s)[0]["reciprocal"], json!(false));
}

async fn explanation_names_the_listings_and_shared_tags_of_both_directions(backend: Backend) {
    let f = reciprocal(backend).await;
    let resp = f.w.matches(&f.x.owner.access, &f.x.id, "").await;
    let (common, rare) = (weight(5, 3), weight(5, 2));

    let r = &partner(&resp, &f.r.id)["explanation"];
    let theirs = r["their_offers_meet_our_needs"].as_array().expect("array");
    assert_eq!(theirs.len(), 1, "{r}");
    let m = &theirs[0];
    assert_eq!(m["need_id"], json!(f.x_need));
    assert_eq!(m["need_title"], X_NEED);
    assert_eq!(m["offer_id"], json!(f.r_offer));
    assert_eq!(m["offer_title"], R_OFFER);
    assert_eq!(m["tags"], json!(["kundenservice"]));
    assert_close(m["weight"].as_f64().expect("weight"), common, "weight");
    let ours = r["our_offers_meet_their_needs"].as_array().expect("array");
    assert_eq!(ours.len(), 1, "{r}");
    let m = &ours[0];
    assert_eq!(m["need_id"], json!(f.r_need));
    assert_eq!(m["need_title"], R_NEED);
    assert_eq!(m["offer_id"], json!(f.x_offer));
    assert_eq!(m["offer_title"], X_OFFER);
    assert_eq!(m["tags"], json!(["seminarraum"]));
    assert_close(m["weight"].as_f64().expect("weight"), rare, "weight");

    // S: one meeting through three tags, rarest first; nothing of ours meets S.
    let s = &partner(&resp, &f.s.id)["explanation"];
    let theirs = s["their_offers_meet_our_needs"].as_array().expect("array");
    assert_eq!(theirs.len(), 1, "{s}");
    assert_eq!(theirs[0]["need_id"], json!(f.x_need));
    assert_eq!(theirs[0]["offer_id"], json!(f.s_offer));
    assert_eq!(theirs[0]["offer_title"], S_OFFER);
    assert_eq!(
        theirs[0]["tags"],
        json!(["sommelier-kurs", "weinprobe", "kundenservice"])
    );
    assert_eq!(s["our_offers_meet_their_needs"], json!([]));

    // Seen from R the two directions swap.
    let from_r = f.w.matches(&f.r.owner.access, &f.r.id, "").await;
    let x = &partner(&from_r, &f.x.id)["explanation"];
    assert_eq!(
        x["their_offers_meet_our_needs"][0]["need_id"],
        json!(f.r_need)
    );
    assert_eq!(
        x["their_offers_meet_our_needs"][0]["offer_id"],
        json!(f.x_offer)
    );
    assert_eq!(
        x["our_offers_meet_their_needs"][0]["need_id"],
        json!(f.x_need)
    );
    assert_eq!(
        x["our_offers_meet_their_needs"][0]["offer_id"],
        json!(f.r_offer)
    );
    assert_eq!(
        x["our_offers_meet_their_needs"][0]["tags"],
        json!(["kundenservice"])
    );
}

async fn rare_shared_tag_outweighs_a_common_one(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let wine = w
        .company("leitung@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let c1 = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let c2 = w
        .company("team@pension-seeblick.example", "Pension Seeblick")
        .await;
    let many = w
        .company("info@servicewerk.example", "Servicewerk Schulungen")
        .await;
    let x_need = w
        .publish(
            &x,
            need(
                "Kundenservice und Weinkeller-Beratung gesucht",
                &["kundenservice", "weinkeller"],
            ),
        )
        .await;
    let wine_offer = w
        .publish(
            &wine,
            offer("Führung durch unseren Weinkeller", &["weinkeller"]),
        )
        .await;
    w.publish(&c1, offer("Kundenservice-Workshop", &["kundenservice"]))
        .await;
    w.publish(&c2, offer("Kundenservice am Telefon", &["kundenservice"]))
        .await;
    let mut many_offers = BTreeSet::new();
    for title in [
        "Kundenservice-Coaching",
        "Kundenservice für Gruppen",
        "Kundenservice im Restaurant",
        "Kundenservice auf Englisch",
    ] {
        many_offers.insert(w.publish(&many, offer(title, &["kundenservice"])).await);
    }

    let resp = w.matches(&x.owner.access, &x.id, "").await;
    let mut expected = vec![wine.id.clone()];
    expected.extend(sorted(&[&c1.id, &c2.id, &many.id]));
    assert_eq!(org_ids(&resp), expected, "{}", resp.text);
    assert!(items(&resp).iter().all(|p| p["reciprocal"] == json!(false)));

    // 8 published listings: kundenservice on 7, weinkeller on 2.
    let (common, rare) = (weight(8, 7), weight(8, 2));
    let first = &items(&resp)[0];
    assert_close(score(first), rare, "the rare tag's partner");
    for p in &items(&resp)[1..] {
        assert!(score(first) > score(p), "{}", resp.text);
        assert_close(score(p), common, "a common tag's partner");
    }
    let m = &first["explanation"]["their_offers_meet_our_needs"][0];
    assert_eq!(m["need_id"], json!(x_need));
    assert_eq!(m["offer_id"], json!(wine_offer));
    assert_eq!(m["tags"], json!(["weinkeller"]));

    // Four offers meeting the same need count once: the best one.
    let p = partner(&resp, &many.id);
    let theirs = p["explanation"]["their_offers_meet_our_needs"]
        .as_array()
        .expect("array");
    assert_eq!(theirs.len(), 1, "{p}");
    assert!(many_offers.contains(theirs[0]["offer_id"].as_str().expect("offer_id")));
}

async fn partner_meeting_more_of_our_needs_ranks_higher(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let both = w.company("chef@mobil-am-see.example", "Mobil am See").await;
    let bikes = w
        .company("verleih@radhaus.example", "Radhaus Verleih")
        .await;
    let bus = w
        .company("fahrdienst@bus-bayern.example", "Bus Bayern")
        .await;
    let need_bikes = w
        .publish(&x, need("Fahrräder für Gäste gesucht", &["fahrradverleih"]))
        .await;
    let need_shuttle = w
        .publish(&x, need("Shuttle zum Bahnhof gesucht", &["shuttle"]))
        .await;
    let both_bikes = w
        .publish(&both, offer("E-Bikes zum Verleih", &["fahrradverleih"]))
        .await;
    let both_shuttle = w
        .publish(&both, offer("Shuttle-Service ab Bahnhof", &["shuttle"]))
        .await;
    w.publish(&bikes, offer("Tourenräder", &["fahrradverleih"]))
        .await;
    w.publish(&bus, offer("Kleinbus mit Fahrer", &["shuttle"]))
        .await;

    let resp = w.matches(&x.owner.access, &x.id, "").await;
    let mut expected = vec![both.id.clone()];
    expected.extend(sorted(&[&bikes.id, &bus.id]));
    assert_eq!(org_ids(&resp), expected, "{}", resp.text);

    // 6 published listings, each tag on 3.
    let one = weight(6, 3);
    assert_close(score(&items(&resp)[0]), 2.0 * one, "two needs met");
    assert_close(score(&items(&resp)[1]), one, "one need met");
    assert_close(score(&items(&resp)[2]), one, "one need met");
    let met: BTreeSet<(String, String)> = items(&resp)[0]["explanation"]
        ["their_offers_meet_our_needs"]
        .as_array()
        .expect("array")
        .iter()
        .map(|m| {
            (
                m["need_id"].as_str().expect("need_id").to_owned(),
                m["offer_id"].as_str().expect("offer_id").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        met,
        BTreeSet::from([(need_bikes, both_bikes), (need_shuttle, both_shuttle)])
    );
}

// ---------------------------------------------------------------------------------------
// What is never matched, and freshness
// ---------------------------------------------------------------------------------------

async fn self_unrelated_suspended_unpublished_and_expired_are_never_matched(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let partner_org = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let unrelated = w
        .company("studio@foto-licht.example", "Fotostudio Licht")
        .await;
    let suspended = w
        .company("kontakt@pension-schatten.example", "Pension Schatten")
        .await;
    let ghost = w
        .company("info@geisterhaus.example", "Gasthaus Geisterhaus")
        .await;

    // X needs customer service, offers a seminar room — and offers customer service itself.
    w.publish(
        &x,
        need("Kundenservice-Schulung gesucht", &["kundenservice"]),
    )
    .await;
    w.publish(&x, offer("Seminarraum", &["seminarraum"])).await;
    w.publish(
        &x,
        offer("Unser Kundenservice-Know-how", &["kundenservice"]),
    )
    .await;

    // A partner whose offer expires in the future still matches.
    let mut later = offer("Kundenservice-Training", &["kundenservice"]);
    later["expires_at"] = json!("2099-01-01T00:00:00Z");
    w.publish(&partner_org, later).await;
    w.publish(&unrelated, offer("Hochzeitsfotografie", &["fotografie"]))
        .await;
    w.publish(&unrelated, need("Catering für Shootings", &["catering"]))
        .await;
    w.publish(
        &suspended,
        offer("Kundenservice im Team", &["kundenservice"]),
    )
    .await;
    w.publish(&suspended, need("Seminarraum gesucht", &["seminarraum"]))
        .await;

    // Ghost: the same tags, but no listing of it is live.
    w.draft(&ghost, offer("Entwurf: Kundenservice", &["kundenservice"]))
        .await;
    w.draft(&ghost, need("Entwurf: Seminarraum", &["seminarraum"]))
        .await;
    w.pending(&ghost, offer("Wartet: Kundenservice", &["kundenservice"]))
        .await;
    w.pending(&ghost, need("Wartet: Seminarraum", &["seminarraum"]))
        .await;
    let rejected = w
        .pending(
            &ghost,
            offer("Abgelehnt: Kundenservice", &["kundenservice"]),
        )
        .await;
    w.moderate(
        &rejected,
        "reject",
        json!({"reason": "Bitte die Gegenleistung beschreiben."}),
    )
    .await;
    let archived = w
        .publish(
            &ghost,
            offer("Archiviert: Kundenservice", &["kundenservice"]),
        )
        .await;
    let removed = w
        .publish(&ghost, need("Entfernt: Seminarraum", &["seminarraum"]))
        .await;
    let expired_offer = w
        .publish(
            &ghost,
            offer("Abgelaufen: Kundenservice", &["kundenservice"]),
        )
        .await;
    let expired_need = w
        .publish(&ghost, need("Abgelaufen: Seminarraum", &["seminarraum"]))
        .await;

    // Before the last changes everyone with shared tags is there.
    let before = w.partners(&x, "").await;
    assert_eq!(
        before.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            partner_org.id.clone(),
            suspended.id.clone(),
            ghost.id.clone()
        ])
    );

    w.archive(&ghost, &archived).await;
    w.remove(&removed).await;
    w.expire(&expired_offer);
    w.expire(&expired_need);
    w.suspend(&suspended);

    for query in ["", "industry=any", "limit=100", "industry=hospitality"] {
        let resp = w.matches(&x.owner.access, &x.id, query).await;
        assert_eq!(
            org_ids(&resp),
            vec![partner_org.id.clone()],
            "?{query}: {}",
            resp.text
        );
        let p = &items(&resp)[0];
        assert_eq!(p["reciprocal"], json!(false));
        assert_eq!(p["explanation"]["our_offers_meet_their_needs"], json!([]));
    }
    // Nothing matches the unrelated organisation, the suspended one sees only X.
    assert!(w.partners(&unrelated, "").await.is_empty());
    assert_eq!(w.partners(&partner_org, "").await, vec![x.id.clone()]);
}

async fn matches_follow_archiving_removal_and_approval_at_once(backend: Backend) {
    let f = reciprocal(backend).await;
    let w = &f.w;
    assert_eq!(
        w.partners(&f.x, "").await,
        vec![f.r.id.clone(), f.s.id.clone()]
    );

    // R archives its offer: it still needs our seminar room, so it is one-sided now and
    // ranks below S.
    w.archive(&f.r, &f.r_offer).await;
    let resp = w.matches(&f.x.owner.access, &f.x.id, "").await;
    assert_eq!(org_ids(&resp), vec![f.s.id.clone(), f.r.id.clone()]);
    let r = partner(&resp, &f.r.id);
    assert_eq!(r["reciprocal"], json!(false));
    assert_eq!(r["explanation"]["their_offers_meet_our_needs"], json!([]));
    assert_eq!(
        r["explanation"]["our_offers_meet_their_needs"][0]["need_id"],
        json!(f.r_need)
    );

    // A moderator removes R's need: R is gone.
    w.remove(&f.r_need).await;
    assert_eq!(w.partners(&f.x, "").await, vec![f.s.id.clone()]);

    // A new organisation's offer appears once approved, not while it waits.
    let t = w
        .company("team@tagungshaus.example", "Tagungshaus am Park")
        .await;
    let t_need = w
        .pending(&t, need("Seminarraum tageweise", &["seminarraum"]))
        .await;
    assert_eq!(w.partners(&f.x, "").await, vec![f.s.id.clone()]);
    w.approve(&t_need).await;
    let resp = w.matches(&f.x.owner.access, &f.x.id, "").await;
    assert_eq!(org_ids(&resp), vec![f.s.id.clone(), t.id.clone()]);
    assert_eq!(partner(&resp, &t.id)["reciprocal"], json!(false));

    // X archives its own need: S, which only met that need, disappears.
    w.archive(&f.x, &f.x_need).await;
    assert_eq!(w.partners(&f.x, "").await, vec![t.id.clone()]);
    w.archive(&f.x, &f.x_offer).await;
    let resp = w.matches(&f.x.owner.access, &f.x.id, "").await;
    assert!(items(&resp).is_empty(), "{}", resp.text);
    assert_eq!(next_cursor(&resp), None);
}

// ---------------------------------------------------------------------------------------
// Filters and pages
// ---------------------------------------------------------------------------------------

async fn industry_defaults_to_our_own_and_region_category_trial_narrow(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let munich = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let berlin = w
        .company("team@pension-spree.example", "Pension an der Spree")
        .await;
    let consulting = w
        .company_in("beratung@servicewerk.example", "Servicewerk", "consulting")
        .await;
    w.publish(
        &x,
        need("Kundenservice-Schulung gesucht", &["kundenservice"]),
    )
    .await;
    let mut body = offer("Kundenservice-Training mit Probetag", &["kundenservice"]);
    body["trial_available"] = json!(true);
    w.publish(&munich, body).await;
    let mut body = offer("Kundenservice-Handbuch zum Ausleihen", &["kundenservice"]);
    body["region"] = json!("Berlin");
    body["category"] = json!("resource");
    w.publish(&berlin, body).await;
    let consulting_offer = w
        .publish(
            &consulting,
            offer("Kundenservice-Beratung für Hotels", &["kundenservice"]),
        )
        .await;
    let shown = w
        .app
        .get(&format!("{LISTINGS}/{consulting_offer}"), None)
        .await;
    assert_eq!(shown.body["industry"], "consulting", "{}", shown.text);

    let set = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let everyone = set(&[&munich.id, &berlin.id, &consulting.id]);
    let hospitality = set(&[&munich.id, &berlin.id]);
    for (query, expected) in [
        ("", hospitality.clone()),
        ("industry=hospitality", hospitality.clone()),
        ("industry=any", everyone.clone()),
        ("industry=ANY", everyone.clone()),
        ("industry=consulting", set(&[&consulting.id])),
        ("industry=Consulting", set(&[&consulting.id])),
        ("industry=bakery", set(&[])),
        ("region=Berlin", set(&[&berlin.id])),
        ("region=Bayern", set(&[&munich.id])),
        (
            "region=Bayern&industry=any",
            set(&[&munich.id, &consulting.id]),
        ),
        ("region=Hamburg&industry=any", set(&[])),
        ("category=resource", set(&[&berlin.id])),
        ("category=expertise", set(&[&munich.id])),
        (
            "category=expertise&industry=any",
            set(&[&munich.id, &consulting.id]),
        ),
        ("trial=true", set(&[&munich.id])),
        ("trial=true&industry=any", set(&[&munich.id])),
        ("trial=false", set(&[&berlin.id])),
        (
            "trial=false&industry=any",
            set(&[&berlin.id, &consulting.id]),
        ),
        ("trial=true&region=Berlin", set(&[])),
    ] {
        let got: BTreeSet<String> = w.partners(&x, query).await.into_iter().collect();
        assert_eq!(got, expected, "?{query}");
    }

    // The consulting organisation's default scope is its own industry.
    w.publish(
        &consulting,
        need("Seminarraum für Beratungstage", &["seminarraum"]),
    )
    .await;
    w.publish(&x, offer("Seminarraum", &["seminarraum"])).await;
    assert!(w.partners(&consulting, "").await.is_empty());
    let resp = w
        .matches(
            &consulting.owner.access,
            &consulting.id,
            "industry=hospitality",
        )
        .await;
    assert_eq!(org_ids(&resp), vec![x.id.clone()]);
    assert_eq!(items(&resp)[0]["reciprocal"], json!(true));
}

async fn bad_filters_limits_and_cursors_are_rejected(backend: Backend) {
    let f = reciprocal(backend).await;
    let token = f.x.owner.access.as_str();
    for query in [
        "limit=0",
        "limit=-1",
        "limit=101",
        "limit=many",
        "cursor=garbage",
        "cursor=%21%21%21",
        "cursor=bm90LWEtY3Vyc29y",
        "category=furniture",
        "trial=maybe",
    ] {
        let resp =
            f.w.app
                .get(
                    &format!("/api/v1/orgs/{}/matches?{query}", f.x.id),
                    Some(token),
                )
                .await;
        resp.expect_problem(400);
        let resp =
            f.w.app
                .get(&format!("{LISTINGS}/{}/matches?{query}", f.x_need), None)
                .await;
        resp.expect_problem(400);
    }
}

/// Five partners: R reciprocal, W through a rare tag, C1–C3 tied through a common one.
async fn cursor_pages_walk_all_partners_in_rank_order(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let r = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let wine = w
        .company("leitung@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let mut common = Vec::new();
    for (email, name) in [
        ("a@pension-a.example", "Pension A"),
        ("b@pension-b.example", "Pension B"),
        ("c@pension-c.example", "Pension C"),
    ] {
        let c = w.company(email, name).await;
        w.publish(&c, offer("Kundenservice-Workshop", &["kundenservice"]))
            .await;
        common.push(c);
    }
    w.publish(
        &x,
        need(
            "Kundenservice und Weinkeller gesucht",
            &["kundenservice", "weinkeller"],
        ),
    )
    .await;
    w.publish(&x, offer("Seminarraum", &["seminarraum"])).await;
    w.publish(&r, offer("Kundenservice-Coaching", &["kundenservice"]))
        .await;
    w.publish(&r, need("Seminarraum gesucht", &["seminarraum"]))
        .await;
    w.publish(&wine, offer("Weinkeller-Führung", &["weinkeller"]))
        .await;

    let mut expected = vec![r.id.clone(), wine.id.clone()];
    expected.extend(sorted(&common.iter().map(|c| &c.id).collect::<Vec<_>>()));
    let all = w.matches(&x.owner.access, &x.id, "limit=100").await;
    assert_eq!(org_ids(&all), expected, "{}", all.text);
    assert_eq!(next_cursor(&all), None);
    let exact = w.matches(&x.owner.access, &x.id, "limit=5").await;
    assert_eq!(org_ids(&exact), expected);
    assert_eq!(next_cursor(&exact), None, "no page after the last partner");

    for limit in [1usize, 2, 3] {
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = format!("limit={limit}");
            if let Some(c) = &cursor {
                query.push_str(&format!("&cursor={}", enc(c)));
            }
            let page = w.matches(&x.owner.access, &x.id, &query).await;
            assert!(items(&page).len() <= limit, "{}", page.text);
            walked.extend(org_ids(&page));
            pages += 1;
            assert!(pages <= 10, "pagination does not end");
            match next_cursor(&page) {
                Some(c) => {
                    assert_eq!(items(&page).len(), limit, "a short page with a cursor");
                    cursor = Some(c);
                }
                None => break,
            }
        }
        assert_eq!(walked, expected, "limit={limit}");
        assert_eq!(pages, expected.len().div_ceil(limit), "limit={limit}");
    }
}

// ---------------------------------------------------------------------------------------
// Who may ask
// ---------------------------------------------------------------------------------------

async fn only_the_organisations_members_and_keys_see_its_matches(backend: Backend) {
    let f = reciprocal(backend).await;
    let app = &f.w.app;
    let path = format!("/api/v1/orgs/{}/matches", f.x.id);
    let expected = vec![f.r.id.clone(), f.s.id.clone()];

    let admin = app
        .member(&f.x.id, &f.x.owner, "admin@gasthof-sonne.example", "admin")
        .await;
    let member = app
        .member(
            &f.x.id,
            &f.x.owner,
            "service@gasthof-sonne.example",
            "member",
        )
        .await;
    let read_key = app.api_key(&f.x.id, &f.x.owner, &["read"]).await;
    let write_key = app.api_key(&f.x.id, &f.x.owner, &["write"]).await;
    for token in [
        f.x.owner.access.as_str(),
        admin.access.as_str(),
        member.access.as_str(),
        read_key.as_str(),
        write_key.as_str(),
    ] {
        assert_eq!(org_ids(&f.w.matches(token, &f.x.id, "").await), expected);
    }

    // Anonymous or a bad token: 401.
    app.get(&path, None).await.expect_problem(401);
    app.get(&path, Some("not-a-token"))
        .await
        .expect_problem(401);
    // Another organisation's owner, its key, a user without organisation, a moderator: 403.
    let r_key = app.api_key(&f.r.id, &f.r.owner, &["read"]).await;
    let loner = app.user("einzeln@example.org").await;
    for token in [
        f.r.owner.access.as_str(),
        r_key.as_str(),
        loner.access.as_str(),
        f.w.moderator.access.as_str(),
    ] {
        app.get(&path, Some(token)).await.expect_problem(403);
    }
    // An organisation that does not exist: 404.
    let unknown = uuid::Uuid::new_v4();
    app.get(
        &format!("/api/v1/orgs/{unknown}/matches"),
        Some(&f.x.owner.access),
    )
    .await
    .expect_problem(404);
    // A removed member loses access.
    let resp = app
        .delete(
            &format!("/api/v1/orgs/{}/members/{}", f.x.id, member.id),
            Some(&f.x.owner.access),
        )
        .await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    app.get(&path, Some(&member.access))
        .await
        .expect_problem(403);
}

// ---------------------------------------------------------------------------------------
// Listings that fit a listing
// ---------------------------------------------------------------------------------------

async fn listing_matches_rank_other_organisations_live_offers_for_a_need(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let wine = w
        .company("leitung@weingut-morgenrot.example", "Weingut Morgenrot")
        .await;
    let c = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let suspended = w
        .company("kontakt@pension-schatten.example", "Pension Schatten")
        .await;
    let x_need = w
        .publish(
            &x,
            need(
                "Kundenservice und Weinkeller-Beratung gesucht",
                &["kundenservice", "weinkeller"],
            ),
        )
        .await;
    // Our own offer, another organisation's need and non-live offers never fit.
    w.publish(
        &x,
        offer("Unser Kundenservice", &["kundenservice", "weinkeller"]),
    )
    .await;
    w.publish(
        &wine,
        need("Kundenservice-Hilfe gesucht", &["kundenservice"]),
    )
    .await;
    let wine_offer = w
        .publish(
            &wine,
            offer("Führung durch den Weinkeller", &["weinkeller"]),
        )
        .await;
    let c1 = w
        .publish(&c, offer("Kundenservice-Workshop", &["kundenservice"]))
        .await;
    let c2 = w
        .publish(&c, offer("Kundenservice am Telefon", &["kundenservice"]))
        .await;
    let expired = w
        .publish(
            &c,
            offer(
                "Weinkeller und Kundenservice",
                &["kundenservice", "weinkeller"],
            ),
        )
        .await;
    w.expire(&expired);
    w.draft(&c, offer("Entwurf: Weinkeller", &["weinkeller"]))
        .await;
    w.publish(
        &suspended,
        offer(
            "Weinkeller und Kundenservice",
            &["kundenservice", "weinkeller"],
        ),
    )
    .await;
    w.suspend(&suspended);

    let mut expected = vec![wine_offer.clone()];
    expected.extend(sorted(&[&c1, &c2]));
    let resp = w.listing_matches(None, &x_need, "").await;
    assert_eq!(listing_ids(&resp), expected, "{}", resp.text);
    assert_eq!(next_cursor(&resp), None);
    let found = items(&resp);
    assert!(score(&found[0]) > score(&found[1]), "{}", resp.text);
    assert_close(score(&found[1]), score(&found[2]), "equal common tags");
    assert_eq!(found[0]["tags"], json!(["weinkeller"]));
    assert_eq!(found[1]["tags"], json!(["kundenservice"]));
    let first = &found[0]["listing"];
    assert_eq!(first["org_id"], json!(wine.id));
    assert_eq!(first["kind"], "offer");
    assert_eq!(first["status"], "published");
    assert_eq!(first["title"], "Führung durch den Weinkeller");
    assert_eq!(first["tags"], json!(["weinkeller"]));
    assert!(
        first.get("moderation_reason").is_none() && first.get("pending_changes").is_none(),
        "public view only: {first}"
    );

    // Signed in (as anyone) it is the same list.
    let signed_in = w.listing_matches(Some(&c.owner.access), &x_need, "").await;
    assert_eq!(listing_ids(&signed_in), expected);

    // Cursor pages walk the same order.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut query = "limit=1".to_owned();
        if let Some(cur) = &cursor {
            query.push_str(&format!("&cursor={}", enc(cur)));
        }
        let page = w.listing_matches(None, &x_need, &query).await;
        walked.extend(listing_ids(&page));
        cursor = next_cursor(&page);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(walked, expected);
    assert_eq!(cursor, None, "pagination does not end");

    // From the offer's side: needs of other organisations.
    let resp = w.listing_matches(None, &wine_offer, "").await;
    assert_eq!(listing_ids(&resp), vec![x_need.clone()], "{}", resp.text);
    assert_eq!(items(&resp)[0]["tags"], json!(["weinkeller"]));

    // Filters narrow as for organisations.
    let resp = w.listing_matches(None, &x_need, "category=resource").await;
    assert!(items(&resp).is_empty(), "{}", resp.text);
    let resp = w
        .listing_matches(None, &x_need, "industry=consulting")
        .await;
    assert!(items(&resp).is_empty(), "{}", resp.text);

    // Unknown listings and the expired one are 404 for the public.
    let unknown = uuid::Uuid::new_v4();
    w.app
        .get(&format!("{LISTINGS}/{unknown}/matches"), None)
        .await
        .expect_problem(404);
    w.app
        .get(&format!("{LISTINGS}/{expired}/matches"), None)
        .await
        .expect_problem(404);
}

async fn matches_of_an_unpublished_listing_are_for_its_organisation_only(backend: Backend) {
    let w = world(backend).await;
    let x = w
        .company("inhaberin@gasthof-sonne.example", "Gasthof Sonne")
        .await;
    let c = w
        .company("chef@hotel-alpenblick.example", "Hotel Alpenblick")
        .await;
    let c_offer = w
        .publish(&c, offer("Kundenservice-Workshop", &["kundenservice"]))
        .await;
    let drafted = w
        .draft(
            &x,
            need("Entwurf: Kundenservice gesucht", &["kundenservice"]),
        )
        .await;
    let waiting = w
        .pending(
            &x,
            need("Wartet: Kundenservice gesucht", &["kundenservice"]),
        )
        .await;
    let expired = w
        .publish(&x, need("Abgelaufen: Kundenservice", &["kundenservice"]))
        .await;
    w.expire(&expired);
    let member = w
        .app
        .member(&x.id, &x.owner, "service@gasthof-sonne.example", "member")
        .await;
    let key = w.app.api_key(&x.id, &x.owner, &["read"]).await;

    for id in [&drafted, &waiting, &expired] {
        let path = format!("{LISTINGS}/{id}/matches");
        w.app.get(&path, None).await.expect_problem(404);
        w.app
            .get(&path, Some(&c.owner.access))
            .await
            .expect_problem(404);
        for token in [
            x.owner.access.as_str(),
            member.access.as_str(),
            key.as_str(),
            w.moderator.access.as_str(),
        ] {
            let resp = w.listing_matches(Some(token), id, "").await;
            assert_eq!(listing_ids(&resp), vec![c_offer.clone()], "{}", resp.text);
        }
    }
    // The listings' own ids never leak to the public through the offer's matches.
    let resp = w.listing_matches(None, &c_offer, "").await;
    assert!(items(&resp).is_empty(), "{}", resp.text);
}

backends!(
    reciprocal_partner_ranks_above_a_higher_scoring_one_sided_partner,
    explanation_names_the_listings_and_shared_tags_of_both_directions,
    rare_shared_tag_outweighs_a_common_one,
    partner_meeting_more_of_our_needs_ranks_higher,
    self_unrelated_suspended_unpublished_and_expired_are_never_matched,
    matches_follow_archiving_removal_and_approval_at_once,
    industry_defaults_to_our_own_and_region_category_trial_narrow,
    bad_filters_limits_and_cursors_are_rejected,
    cursor_pages_walk_all_partners_in_rank_order,
    only_the_organisations_members_and_keys_see_its_matches,
    listing_matches_rank_other_organisations_live_offers_for_a_need,
    matches_of_an_unpublished_listing_are_for_its_organisation_only,
);
