//! The listing lifecycle as one pure function: ([`Listing`] state, [`Actor`], [`Action`]) →
//! the [`Transition`] to store, or a typed [`Refusal`]. No database, no clock: handlers
//! load and lock the row, call [`transition`], and store the result in one transaction.
//!
//! ```text
//! draft ──submit──▶ pending_review ──approve──▶ published ──archive──▶ archived
//!   ▲                    │  └──reject──▶ rejected ──submit──┘ (back to pending_review)
//!   └── edits            │
//! remove (moderator): pending_review | published | rejected | archived ──▶ removed
//! restore: removed ──▶ the status it was removed from
//! ```
//!
//! An edit of a published listing's title, description or tags waits for review in
//! `pending_*` while the approved text stays public; approve applies it, reject drops it.

use chrono::NaiveDateTime;

use super::{Listing, ListingCategory, ListingStatus, ListingUpdate};
use crate::error::ApiError;
use crate::models::event::EventType;

/// Who acts on a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A member or `write` key of the listing's organisation.
    Owner,
    /// A platform moderator (or admin).
    Moderator,
}

/// An owner's change of a listing's fields, already validated. `None`: unchanged; for the
/// nullable fields `Some(None)` clears. `tags` is the stored comma-joined form.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Edit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<String>,
    pub category: Option<ListingCategory>,
    pub industry: Option<String>,
    pub region: Option<Option<String>>,
    pub trial_available: Option<bool>,
    pub expires_at: Option<Option<NaiveDateTime>>,
}

impl Edit {
    fn touches_text(&self) -> bool {
        self.title.is_some() || self.description.is_some() || self.tags.is_some()
    }
}

/// Something done to a listing.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Owner: change fields.
    Edit(Edit),
    /// Owner: ask for review.
    Submit,
    /// Owner: take a published listing out of search and matching.
    Archive,
    /// Owner: delete it for good.
    Delete,
    /// Moderator: publish a submitted listing, or apply a published listing's pending edit.
    Approve,
    /// Moderator: refuse a submitted listing or a pending edit, with the reason shown to the owner.
    Reject(String),
    /// Moderator: hide it, with the reason shown to the owner.
    Remove(String),
    /// Moderator: undo a removal.
    Restore,
}

impl Action {
    /// The verb in messages and in the moderation log.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Edit(_) => "edit",
            Action::Submit => "submit",
            Action::Archive => "archive",
            Action::Delete => "delete",
            Action::Approve => "approve",
            Action::Reject(_) => "reject",
            Action::Remove(_) => "remove",
            Action::Restore => "restore",
        }
    }

    /// Who may take this action.
    pub fn actor(&self) -> Actor {
        match self {
            Action::Edit(_) | Action::Submit | Action::Archive | Action::Delete => Actor::Owner,
            _ => Actor::Moderator,
        }
    }

    /// The reason a moderator gave, if the action carries one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Action::Reject(reason) | Action::Remove(reason) => Some(reason),
            _ => None,
        }
    }
}

/// What to store.
#[derive(Debug, Clone, PartialEq)]
// The update is the common case and lives on the stack only for the length of a request.
#[allow(clippy::large_enum_variant)]
pub enum Transition {
    /// Change the row (the new status, if any, is in the update).
    Update(ListingUpdate),
    /// Delete the row.
    Delete,
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The status does not allow the action (409).
    #[error("cannot {action} a listing whose status is {status}")]
    Illegal {
        action: &'static str,
        status: ListingStatus,
    },
    /// Category and industry of a published listing are fixed (409).
    #[error("category and industry of a published listing cannot change; archive it and create a new one")]
    FixedField,
    /// Drafts are private to their organisation until submitted: to moderators they do not
    /// exist (404).
    #[error("listing {id} does not exist")]
    Hidden { id: String },
    /// The actor may not take this action at all (403).
    #[error("only {who} may {action} a listing")]
    NotPermitted {
        action: &'static str,
        who: &'static str,
    },
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        let detail = refusal.to_string();
        match refusal {
            Refusal::Illegal { .. } | Refusal::FixedField => ApiError::Conflict(detail),
            Refusal::Hidden { .. } => ApiError::NotFound(detail),
            Refusal::NotPermitted { .. } => ApiError::Forbidden(detail),
        }
    }
}

/// The transition `action` by `actor` makes from the listing's current state, at `at`.
pub fn transition(
    listing: &Listing,
    actor: Actor,
    action: Action,
    at: NaiveDateTime,
) -> Result<Transition, Refusal> {
    let status = listing.status;
    let verb = action.verb();
    match (actor, action.actor()) {
        (Actor::Owner, Actor::Moderator) => {
            return Err(Refusal::NotPermitted {
                action: verb,
                who: "moderators",
            })
        }
        (Actor::Moderator, Actor::Owner) => {
            return Err(Refusal::NotPermitted {
                action: verb,
                who: "the listing's organisation",
            })
        }
        (Actor::Moderator, _) if status == ListingStatus::Draft => {
            return Err(Refusal::Hidden {
                id: listing.id.clone(),
            })
        }
        _ => {}
    }
    let illegal = Refusal::Illegal {
        action: verb,
        status,
    };
    let allowed = match actor {
        Actor::Owner => owner_transition(listing, action, at),
        Actor::Moderator => {
            moderator_update(listing, action, at).map(|u| Ok(Transition::Update(u)))
        }
    };
    allowed.unwrap_or(Err(illegal))
}

/// An owner's action in the listing's status, or `None` when the status does not allow it.
fn owner_transition(
    listing: &Listing,
    action: Action,
    at: NaiveDateTime,
) -> Option<Result<Transition, Refusal>> {
    let update = match (action, listing.status) {
        (Action::Edit(edit), _) => {
            return edit_update(listing, edit, at).map(|r| r.map(Transition::Update))
        }
        (
            Action::Delete,
            ListingStatus::Draft | ListingStatus::Rejected | ListingStatus::Archived,
        ) => return Some(Ok(Transition::Delete)),
        (Action::Submit, ListingStatus::Draft | ListingStatus::Rejected) => ListingUpdate {
            status: Some(ListingStatus::PendingReview),
            submitted_at: Some(Some(at)),
            moderation_reason: Some(None),
            ..Default::default()
        },
        (Action::Archive, ListingStatus::Published) => ListingUpdate {
            status: Some(ListingStatus::Archived),
            ..clear_pending()
        },
        _ => return None,
    };
    Some(Ok(Transition::Update(update)))
}

/// A moderator's decision in the listing's status, or `None` when the status does not
/// allow it.
fn moderator_update(listing: &Listing, action: Action, at: NaiveDateTime) -> Option<ListingUpdate> {
    let status = listing.status;
    Some(match (action, status) {
        (Action::Approve, ListingStatus::PendingReview) => ListingUpdate {
            status: Some(ListingStatus::Published),
            published_at: Some(Some(at)),
            moderation_reason: Some(None),
            ..Default::default()
        },
        (Action::Approve, ListingStatus::Published) if listing.has_pending_changes() => {
            ListingUpdate {
                title: listing.pending_title.clone(),
                description: listing.pending_description.clone(),
                tags: listing.pending_tags.clone(),
                moderation_reason: Some(None),
                ..clear_pending()
            }
        }
        (Action::Reject(reason), ListingStatus::PendingReview) => ListingUpdate {
            status: Some(ListingStatus::Rejected),
            moderation_reason: Some(Some(reason)),
            ..Default::default()
        },
        (Action::Reject(reason), ListingStatus::Published) if listing.has_pending_changes() => {
            ListingUpdate {
                moderation_reason: Some(Some(reason)),
                ..clear_pending()
            }
        }
        (
            Action::Remove(reason),
            ListingStatus::PendingReview
            | ListingStatus::Published
            | ListingStatus::Rejected
            | ListingStatus::Archived,
        ) => ListingUpdate {
            status: Some(ListingStatus::Removed),
            removed_from: Some(Some(status)),
            moderation_reason: Some(Some(reason)),
            ..clear_pending()
        },
        (Action::Restore, ListingStatus::Removed) => ListingUpdate {
            status: Some(listing.removed_from.unwrap_or(ListingStatus::Published)),
            removed_from: Some(None),
            moderation_reason: Some(None),
            ..Default::default()
        },
        _ => return None,
    })
}

fn clear_pending() -> ListingUpdate {
    ListingUpdate {
        pending_title: Some(None),
        pending_description: Some(None),
        pending_tags: Some(None),
        ..Default::default()
    }
}

/// The update an edit makes in the listing's status; `None` when the status allows no edits.
fn edit_update(
    listing: &Listing,
    edit: Edit,
    at: NaiveDateTime,
) -> Option<Result<ListingUpdate, Refusal>> {
    let mut update = ListingUpdate {
        region: edit.region.clone(),
        trial_available: edit.trial_available,
        expires_at: edit.expires_at,
        ..Default::default()
    };
    match listing.status {
        ListingStatus::Draft | ListingStatus::Rejected => {
            update.title = edit.title;
            update.description = edit.description;
            update.tags = edit.tags;
            update.category = edit.category;
            update.industry = edit.industry;
        }
        ListingStatus::Published => {
            if edit.category.is_some() || edit.industry.is_some() {
                return Some(Err(Refusal::FixedField));
            }
            if edit.touches_text() {
                // A second edit builds on the first one still waiting for review.
                let base = |pending: &Option<String>, current: &String| {
                    pending.clone().unwrap_or_else(|| current.clone())
                };
                let l = listing;
                update.pending_title = Some(Some(
                    edit.title
                        .unwrap_or_else(|| base(&l.pending_title, &l.title)),
                ));
                update.pending_description =
                    Some(Some(edit.description.unwrap_or_else(|| {
                        base(&l.pending_description, &l.description)
                    })));
                update.pending_tags = Some(Some(
                    edit.tags.unwrap_or_else(|| base(&l.pending_tags, &l.tags)),
                ));
                update.submitted_at = Some(Some(at));
            }
        }
        _ => return None,
    }
    Some(Ok(update))
}

/// The event an action, once stored, tells the listing's organisation of, judged by the
/// listing's status before it: approving or rejecting a published listing concerns its
/// pending edit. Owners' own edits, archiving and deleting tell nothing.
pub fn event_of(before: ListingStatus, action: &Action) -> Option<EventType> {
    let edit = before == ListingStatus::Published;
    Some(match action {
        Action::Submit => EventType::ListingSubmitted,
        Action::Approve if edit => EventType::ListingEditApproved,
        Action::Approve => EventType::ListingApproved,
        Action::Reject(_) if edit => EventType::ListingEditRejected,
        Action::Reject(_) => EventType::ListingRejected,
        Action::Remove(_) => EventType::ListingRemoved,
        Action::Restore => EventType::ListingRestored,
        Action::Edit(_) | Action::Archive | Action::Delete => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::listing::ListingKind;
    use ListingStatus::*;

    /// What a transition comes to, in short.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        /// Stored with this status (and no pending edit added).
        To(ListingStatus),
        /// Stays published with the edit waiting for review.
        Pending,
        Deleted,
        Illegal,
        Fixed,
        Hidden,
        NotPermitted,
    }
    use Expect::*;

    fn at() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc()
    }

    fn listing(status: ListingStatus, pending: bool) -> Listing {
        let t = at() - chrono::Duration::days(1);
        Listing {
            id: "0190d7a4-0000-7000-8000-000000000001".into(),
            org_id: "0190d7a4-0000-7000-8000-000000000002".into(),
            kind: ListingKind::Offer,
            category: ListingCategory::Expertise,
            title: "Schulung Kundenservice".into(),
            description: "Für Ihr Empfangsteam".into(),
            tags: "kundenservice,schulung".into(),
            industry: "hospitality".into(),
            region: None,
            trial_available: false,
            expires_at: None,
            status,
            removed_from: (status == Removed).then_some(Archived),
            version: 3,
            moderation_reason: None,
            pending_title: pending.then(|| "Schulung Kundenservice II".into()),
            pending_description: pending.then(|| "Neu".into()),
            pending_tags: pending.then(|| "kundenservice".into()),
            submitted_at: None,
            published_at: None,
            created_at: t,
            updated_at: t,
        }
    }

    fn action(name: &str) -> Action {
        match name {
            "edit_text" => Action::Edit(Edit {
                title: Some("Neuer Titel".into()),
                ..Default::default()
            }),
            "edit_category" => Action::Edit(Edit {
                category: Some(ListingCategory::Resource),
                ..Default::default()
            }),
            "edit_region" => Action::Edit(Edit {
                region: Some(Some("Bayern".into())),
                ..Default::default()
            }),
            "submit" => Action::Submit,
            "archive" => Action::Archive,
            "delete" => Action::Delete,
            "approve" => Action::Approve,
            "reject" => Action::Reject("unklar".into()),
            "remove" => Action::Remove("Spam".into()),
            "restore" => Action::Restore,
            other => panic!("no action {other}"),
        }
    }

    fn outcome(l: &Listing, actor: Actor, name: &str) -> Expect {
        match transition(l, actor, action(name), at()) {
            Ok(Transition::Delete) => Deleted,
            Ok(Transition::Update(u)) if u.pending_title.clone().flatten().is_some() => Pending,
            Ok(Transition::Update(u)) => To(u.status.unwrap_or(l.status)),
            Err(Refusal::Illegal { .. }) => Illegal,
            Err(Refusal::FixedField) => Fixed,
            Err(Refusal::Hidden { .. }) => Hidden,
            Err(Refusal::NotPermitted { .. }) => NotPermitted,
        }
    }

    const OWNER_ACTIONS: [&str; 6] = [
        "edit_text",
        "edit_category",
        "edit_region",
        "submit",
        "archive",
        "delete",
    ];
    const MODERATOR_ACTIONS: [&str; 4] = ["approve", "reject", "remove", "restore"];

    /// Every state (published with and without a pending edit) × every owner action.
    #[rustfmt::skip]
    const OWNER_TABLE: [(ListingStatus, bool, [Expect; 6]); 7] = [
        //                      edit_text     edit_category edit_region    submit            archive       delete
        (Draft,         false, [To(Draft),    To(Draft),    To(Draft),     To(PendingReview), Illegal,      Deleted]),
        (PendingReview, false, [Illegal,      Illegal,      Illegal,       Illegal,          Illegal,      Illegal]),
        (Published,     false, [Pending,      Fixed,        To(Published), Illegal,          To(Archived), Illegal]),
        (Published,     true,  [Pending,      Fixed,        To(Published), Illegal,          To(Archived), Illegal]),
        (Rejected,      false, [To(Rejected), To(Rejected), To(Rejected),  To(PendingReview), Illegal,      Deleted]),
        (Archived,      false, [Illegal,      Illegal,      Illegal,       Illegal,          Illegal,      Deleted]),
        (Removed,       false, [Illegal,      Illegal,      Illegal,       Illegal,          Illegal,      Illegal]),
    ];

    /// Every state × every moderator action.
    #[rustfmt::skip]
    const MODERATOR_TABLE: [(ListingStatus, bool, [Expect; 4]); 7] = [
        //                      approve        reject         remove       restore
        (Draft,         false, [Hidden,        Hidden,        Hidden,      Hidden]),
        (PendingReview, false, [To(Published), To(Rejected),  To(Removed), Illegal]),
        (Published,     false, [Illegal,       Illegal,       To(Removed), Illegal]),
        (Published,     true,  [To(Published), To(Published), To(Removed), Illegal]),
        (Rejected,      false, [Illegal,       Illegal,       To(Removed), Illegal]),
        (Archived,      false, [Illegal,       Illegal,       To(Removed), Illegal]),
        (Removed,       false, [Illegal,       Illegal,       Illegal,     To(Archived)]),
    ];

    #[test]
    fn every_owner_action_in_every_state() {
        for (status, pending, expected) in OWNER_TABLE {
            let l = listing(status, pending);
            for (name, want) in OWNER_ACTIONS.iter().zip(expected) {
                assert_eq!(
                    outcome(&l, Actor::Owner, name),
                    want,
                    "owner {name} on {status} (pending {pending})"
                );
                assert_eq!(
                    outcome(&l, Actor::Moderator, name),
                    NotPermitted,
                    "moderator {name} on {status}"
                );
            }
        }
    }

    #[test]
    fn every_moderator_action_in_every_state() {
        for (status, pending, expected) in MODERATOR_TABLE {
            let l = listing(status, pending);
            for (name, want) in MODERATOR_ACTIONS.iter().zip(expected) {
                assert_eq!(
                    outcome(&l, Actor::Moderator, name),
                    want,
                    "moderator {name} on {status} (pending {pending})"
                );
                assert_eq!(
                    outcome(&l, Actor::Owner, name),
                    NotPermitted,
                    "owner {name} on {status}"
                );
            }
        }
    }

    #[test]
    fn the_tables_cover_every_status() {
        for status in ListingStatus::ALL {
            assert!(OWNER_TABLE.iter().any(|(s, _, _)| s == status), "{status}");
            assert!(
                MODERATOR_TABLE.iter().any(|(s, _, _)| s == status),
                "{status}"
            );
        }
    }

    fn update(l: &Listing, actor: Actor, action: Action) -> ListingUpdate {
        match transition(l, actor, action, at()) {
            Ok(Transition::Update(u)) => u,
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn a_published_edit_waits_beside_the_approved_text_and_builds_on_the_last_one() {
        let mut l = listing(Published, false);
        let u = update(&l, Actor::Owner, action("edit_text"));
        assert_eq!(u.title, None, "the approved title stays");
        assert_eq!(u.pending_title, Some(Some("Neuer Titel".into())));
        assert_eq!(u.pending_tags, Some(Some(l.tags.clone())));
        assert_eq!(u.submitted_at, Some(Some(at())));
        l.pending_title = Some("Erster Entwurf".into());
        l.pending_description = Some("Entwurf".into());
        l.pending_tags = Some("entwurf".into());
        let second = Action::Edit(Edit {
            description: Some("Zweiter".into()),
            ..Default::default()
        });
        let u = update(&l, Actor::Owner, second);
        assert_eq!(u.pending_title, Some(Some("Erster Entwurf".into())));
        assert_eq!(u.pending_description, Some(Some("Zweiter".into())));
        assert_eq!(u.pending_tags, Some(Some("entwurf".into())));
    }

    #[test]
    fn approving_an_edit_applies_it_and_rejecting_drops_it() {
        let l = listing(Published, true);
        let u = update(&l, Actor::Moderator, Action::Approve);
        assert_eq!(u.title, l.pending_title);
        assert_eq!(u.tags, l.pending_tags);
        assert_eq!(u.pending_title, Some(None));
        let u = update(&l, Actor::Moderator, Action::Reject("zu vage".into()));
        assert_eq!(u.title, None);
        assert_eq!(u.pending_title, Some(None));
        assert_eq!(u.moderation_reason, Some(Some("zu vage".into())));
    }

    #[test]
    fn removal_remembers_the_status_and_restore_returns_to_it() {
        let u = update(
            &listing(Archived, false),
            Actor::Moderator,
            Action::Remove("Spam".into()),
        );
        assert_eq!(u.removed_from, Some(Some(Archived)));
        assert_eq!(u.moderation_reason, Some(Some("Spam".into())));
        let mut removed = listing(Removed, false);
        removed.removed_from = None;
        let u = update(&removed, Actor::Moderator, Action::Restore);
        assert_eq!(
            u.status,
            Some(Published),
            "rows from before removed_from default to published"
        );
    }

    #[test]
    fn refusals_become_the_api_problems_the_contract_names() {
        let l = listing(PendingReview, false);
        let err = transition(&l, Actor::Owner, Action::Archive, at()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot archive a listing whose status is pending_review"
        );
        assert!(matches!(ApiError::from(err), ApiError::Conflict(_)));
        let hidden = transition(
            &listing(Draft, false),
            Actor::Moderator,
            Action::Approve,
            at(),
        )
        .unwrap_err();
        assert!(matches!(ApiError::from(hidden), ApiError::NotFound(d) if d.contains(&l.id)));
    }

    #[test]
    fn stored_actions_tell_the_owner_what_happened() {
        use EventType as E;
        let table = [
            (Draft, "submit", Some(E::ListingSubmitted)),
            (Rejected, "submit", Some(E::ListingSubmitted)),
            (PendingReview, "approve", Some(E::ListingApproved)),
            (Published, "approve", Some(E::ListingEditApproved)),
            (PendingReview, "reject", Some(E::ListingRejected)),
            (Published, "reject", Some(E::ListingEditRejected)),
            (Published, "remove", Some(E::ListingRemoved)),
            (PendingReview, "remove", Some(E::ListingRemoved)),
            (Removed, "restore", Some(E::ListingRestored)),
            (Draft, "edit_text", None),
            (Published, "edit_text", None),
            (Published, "archive", None),
            (Draft, "delete", None),
        ];
        for (before, name, expected) in table {
            assert_eq!(
                event_of(before, &action(name)),
                expected,
                "{name} from {before}"
            );
        }
    }
}
