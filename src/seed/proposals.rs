//! Open proposals between seeded organisations, for the accept and event-feed benchmarks:
//! each line of the written file is `proposal_id,receiver_api_key,receiver_org_id` (a
//! `write` key made here for each receiving organisation), so a load generator can accept
//! every proposal once, as its receiver. Each receiver is told with a `proposal.received`
//! event, as when a proposal is opened through the API.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;

use diesel::Connection;

use crate::db::DbConnection;
use crate::models::api_key::{ApiKey, Scope, Scopes};
use crate::models::event::{self, Event, EventType};
use crate::models::proposal::{
    Item, ItemCategory, Proposal, ProposalKind, ProposalStatus, Revision, Terms,
};
use crate::models::{new_id, now};

/// The seeded organisations, read back from the logins file `seed` wrote.
fn read_orgs(logins: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(logins)
        .map_err(|e| format!("cannot read {}: {e}", logins.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| line.split(',').next().map(str::to_owned))
        .collect())
}

/// A new `write` key of `org_id`, created by its first owner; returns the secret.
fn write_key(conn: &mut DbConnection, org_id: &str) -> diesel::QueryResult<String> {
    use crate::db::schema::memberships;
    use diesel::prelude::*;
    let owner: String = memberships::table
        .filter(memberships::org_id.eq(org_id))
        .select(memberships::user_id)
        .first(conn)?;
    let key = crate::auth::tokens::random_token(32);
    let key = format!("{}{key}", crate::models::api_key::KEY_PREFIX);
    ApiKey {
        id: new_id(),
        org_id: org_id.to_owned(),
        name: "accept benchmark".to_owned(),
        prefix: key.chars().take(12).collect(),
        key_hash: crate::auth::tokens::sha256_hex(&key),
        scopes: Scopes(vec![Scope::Read, Scope::Write]),
        created_by: owner,
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    }
    .insert(conn)?;
    Ok(key)
}

fn terms(n: usize) -> Terms {
    let item = |category, description: String| Item {
        category,
        description,
        quantity: Some(1 + (n % 5) as i64),
        unit: Some("hours".to_owned()),
        listing_id: None,
    };
    Terms {
        from_gives: vec![item(
            ItemCategory::Expertise,
            format!("Beratung zum Kundenservice, Paket {n}"),
        )],
        to_gives: vec![item(
            ItemCategory::Resource,
            format!("Seminarraum für das Team, Termin {n}"),
        )],
    }
}

/// Creates `count` open exchange proposals, each between a different ordered pair of the
/// organisations in `logins` as far as there are pairs, and writes `out`. Returns how many.
pub fn run(
    conn: &mut DbConnection,
    logins: &Path,
    count: usize,
    out: &Path,
) -> Result<usize, String> {
    let orgs = read_orgs(logins)?;
    if orgs.len() < 2 {
        return Err("open proposals need at least two seeded organisations".into());
    }
    let mut file =
        std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    writeln!(file, "proposal_id,receiver_api_key,receiver_org_id").map_err(|e| e.to_string())?;
    let n_orgs = orgs.len();
    let mut keys: HashMap<usize, String> = HashMap::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let lines = conn
            .transaction::<_, crate::error::ApiError, _>(|conn| {
                let mut lines = Vec::with_capacity(chunk.len());
                let mut events = Vec::with_capacity(chunk.len());
                for &n in chunk {
                    let from = n % n_orgs;
                    let to = (from + 1 + (n / n_orgs) % (n_orgs - 1)) % n_orgs;
                    let (id, at) = (new_id(), now());
                    let proposal = Proposal {
                        id: id.clone(),
                        from_org_id: orgs[from].clone(),
                        to_org_id: orgs[to].clone(),
                        kind: ProposalKind::Exchange,
                        confidential: n % 4 == 0,
                        status: ProposalStatus::Open,
                        latest_revision: 1,
                        expires_at: None,
                        agreement_id: None,
                        closed_reason: None,
                        closed_at: None,
                        created_by: None,
                        created_at: at,
                        updated_at: at,
                    };
                    let first = Revision {
                        proposal_id: id.clone(),
                        number: 1,
                        author_org_id: orgs[from].clone(),
                        author_user_id: None,
                        terms: terms(n).stored(),
                        message: "Ein fairer Tausch?".to_owned(),
                        created_at: at,
                    };
                    proposal.insert(conn, &first)?;
                    let view = proposal.view(std::slice::from_ref(&first), at)?;
                    events.push(Event::new(&orgs[to], EventType::ProposalReceived, &view)?);
                    let key = match keys.get(&to) {
                        Some(key) => key.clone(),
                        None => {
                            let key = write_key(conn, &orgs[to])?;
                            keys.insert(to, key.clone());
                            key
                        }
                    };
                    lines.push(format!("{id},{key},{}", orgs[to]));
                }
                // The chunk's events last, as every change writes them.
                event::write_all(conn, &events)?;
                Ok(lines)
            })
            .map_err(|e| format!("seeding proposals failed: {e}"))?;
        for line in lines {
            writeln!(file, "{line}").map_err(|e| e.to_string())?;
        }
    }
    Ok(count)
}
