//! Members and invitations: joining, roles, leaving, and isolation between organisations.

use serde_json::{json, Value};

use crate::backends;
use crate::helpers::{Backend, Resp, TestApp, TestUser};

fn members_path(org: &str) -> String {
    format!("/api/v1/orgs/{org}/members")
}

fn member_path(org: &str, user_id: &str) -> String {
    format!("/api/v1/orgs/{org}/members/{user_id}")
}

fn invitations_path(org: &str) -> String {
    format!("/api/v1/orgs/{org}/invitations")
}

async fn invite(app: &TestApp, org: &str, by: &TestUser, email: &str, role: &str) -> Resp {
    app.post(
        &invitations_path(org),
        Some(&by.access),
        json!({"email": email, "role": role}),
    )
    .await
}

async fn join(app: &TestApp, org: &str, user: &TestUser, token: &str) -> Resp {
    app.post(
        &members_path(org),
        Some(&user.access),
        json!({"invitation_token": token}),
    )
    .await
}

async fn set_role(app: &TestApp, org: &str, by: &TestUser, user_id: &str, role: &str) -> Resp {
    app.patch(
        &member_path(org, user_id),
        Some(&by.access),
        json!({"role": role}),
    )
    .await
}

fn items(resp: &Resp) -> &Vec<Value> {
    resp.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", resp.text))
}

/// The organisation's members as `(email, role)`, sorted by e-mail, read by `viewer`.
async fn roster(app: &TestApp, org: &str, viewer: &TestUser) -> Vec<(String, String)> {
    let resp = app.get(&members_path(org), Some(&viewer.access)).await;
    resp.expect(200);
    let mut rows: Vec<(String, String)> = items(&resp)
        .iter()
        .map(|m| {
            (
                m["email"].as_str().expect("email").to_owned(),
                m["role"].as_str().expect("role").to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn pairs(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = rows
        .iter()
        .map(|(e, r)| (e.to_string(), r.to_string()))
        .collect();
    rows.sort();
    rows
}

/// The organisation's invitations as listed to `viewer`.
async fn invitations(app: &TestApp, org: &str, viewer: &TestUser) -> Vec<Value> {
    let resp = app.get(&invitations_path(org), Some(&viewer.access)).await;
    resp.expect(200);
    items(&resp).clone()
}

/// The caller's memberships as `(org_id, role)`.
async fn memberships(app: &TestApp, user: &TestUser) -> Vec<(String, String)> {
    let me = app.get("/api/v1/me", Some(&user.access)).await;
    me.expect(200);
    me.body["memberships"]
        .as_array()
        .expect("memberships")
        .iter()
        .map(|m| {
            (
                m["org_id"].as_str().expect("org_id").to_owned(),
                m["role"].as_str().expect("role").to_owned(),
            )
        })
        .collect()
}

fn one(org: &str, role: &str) -> Vec<(String, String)> {
    vec![(org.to_owned(), role.to_owned())]
}

const ANNA: &str = "anna@gasthof-sonne.example";
const JONAS: &str = "jonas@gasthof-sonne.example";
const LENA: &str = "lena@gasthof-sonne.example";
const PETRA: &str = "petra@gasthof-sonne.example";

/// Anna owns "Gasthof Sonne".
async fn sonne(app: &TestApp) -> (TestUser, String) {
    let anna = app.user(ANNA).await;
    let org = app.org(&anna, "Gasthof Sonne").await;
    (anna, org)
}

async fn invitee_joins_with_the_invited_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;

    let invitation = invite(&app, &org, &anna, "  Jonas@Gasthof-Sonne.example ", "admin").await;
    invitation.expect(201);
    let token = invitation.str("token");
    assert!(token.len() >= 20, "a long random token: {token}");
    assert_eq!(invitation.body["status"], json!("pending"));
    assert_eq!(invitation.body["email"], json!(JONAS));
    assert_eq!(invitation.body["role"], json!("admin"));
    assert_eq!(invitation.body["org_id"], json!(org));
    assert_eq!(invitation.body["invited_by"], json!(anna.id));
    let invitation_id = invitation.str("id");

    // Listed without the secret.
    let listed = invitations(&app, &org, &anna).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], json!(invitation_id));
    assert_eq!(listed[0]["status"], json!("pending"));
    assert!(
        listed[0].get("token").is_none(),
        "token leaked: {}",
        listed[0]
    );

    let jonas = app.user(JONAS).await;
    let joined = join(&app, &org, &jonas, &token).await;
    joined.expect(201);
    assert_eq!(joined.body["user_id"], json!(jonas.id));
    assert_eq!(joined.body["email"], json!(JONAS));
    assert_eq!(joined.body["role"], json!("admin"));
    assert_eq!(
        joined.header("location"),
        Some(member_path(&org, &jonas.id))
    );

    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[(ANNA, "owner"), (JONAS, "admin")])
    );
    assert_eq!(memberships(&app, &jonas).await, one(&org, "admin"));
    let listed = invitations(&app, &org, &anna).await;
    assert_eq!(listed[0]["status"], json!("accepted"));
}

async fn invitation_without_role_makes_a_member(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let invitation = app
        .post(
            &invitations_path(&org),
            Some(&anna.access),
            json!({"email": JONAS}),
        )
        .await;
    invitation.expect(201);
    assert_eq!(invitation.body["role"], json!("member"));
    let jonas = app.user(JONAS).await;
    join(&app, &org, &jonas, &invitation.str("token"))
        .await
        .expect(201);
    assert_eq!(memberships(&app, &jonas).await, one(&org, "member"));
}

async fn invitation_with_invalid_email_is_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let resp = invite(&app, &org, &anna, "jonas(at)gasthof-sonne", "member").await;
    resp.expect_problem(422);
    assert_eq!(resp.body["errors"][0]["field"], json!("email"));
    assert!(invitations(&app, &org, &anna).await.is_empty());
}

async fn invitation_token_cannot_be_used_twice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let token = invite(&app, &org, &anna, JONAS, "member")
        .await
        .str("token");
    let jonas = app.user(JONAS).await;

    join(&app, &org, &jonas, &token).await.expect(201);
    let again = join(&app, &org, &jonas, &token).await;
    again.expect_problem(409);

    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[(ANNA, "owner"), (JONAS, "member")])
    );
}

async fn invitation_for_another_email_is_forbidden(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let token = invite(&app, &org, &anna, JONAS, "admin").await.str("token");
    let mallory = app.user("mallory@example.org").await;

    let resp = join(&app, &org, &mallory, &token).await;
    resp.expect_problem(403);

    assert_eq!(roster(&app, &org, &anna).await, pairs(&[(ANNA, "owner")]));
    assert!(memberships(&app, &mallory).await.is_empty());
    // The invitation was not spent: its addressee can still use it.
    assert_eq!(
        invitations(&app, &org, &anna).await[0]["status"],
        json!("pending")
    );
    let jonas = app.user(JONAS).await;
    join(&app, &org, &jonas, &token).await.expect(201);
    assert_eq!(memberships(&app, &jonas).await, one(&org, "admin"));
}

async fn invitation_of_one_org_is_unknown_in_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, sonne_org) = sonne(&app).await;
    let bernd = app.user("bernd@kundenwerk.example").await;
    let kundenwerk = app.org(&bernd, "Kundenwerk GmbH").await;
    let token = invite(&app, &sonne_org, &anna, JONAS, "member")
        .await
        .str("token");
    let jonas = app.user(JONAS).await;

    // The organisation exists; the token names nothing in it: 422 on the field.
    let resp = join(&app, &kundenwerk, &jonas, &token).await;
    resp.expect_problem(422);
    assert_eq!(resp.body["errors"][0]["field"], json!("invitation_token"));
    assert_eq!(
        resp.body["errors"][0]["message"],
        json!("no such invitation for this organisation")
    );

    assert!(memberships(&app, &jonas).await.is_empty());
    assert_eq!(
        roster(&app, &kundenwerk, &bernd).await,
        pairs(&[("bernd@kundenwerk.example", "owner")])
    );
    assert_eq!(
        invitations(&app, &sonne_org, &anna).await[0]["status"],
        json!("pending")
    );
    // A token nobody issued is unknown too.
    join(&app, &sonne_org, &jonas, "not-a-real-token")
        .await
        .expect_problem(422);
    // An organisation that does not exist is the target missing: 404.
    join(&app, "01a236e1-b400-739c-a58c-7d23c6062619", &jonas, &token)
        .await
        .expect_problem(404);
}

async fn revoked_invitation_cannot_be_used(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let invitation = invite(&app, &org, &anna, JONAS, "member").await;
    let id = invitation.str("id");

    let revoked = app
        .delete(
            &format!("{}/{id}", invitations_path(&org)),
            Some(&anna.access),
        )
        .await;
    revoked.expect(204);
    assert_eq!(
        invitations(&app, &org, &anna).await[0]["status"],
        json!("revoked")
    );

    let jonas = app.user(JONAS).await;
    let resp = join(&app, &org, &jonas, &invitation.str("token")).await;
    resp.expect_problem(409);
    assert!(memberships(&app, &jonas).await.is_empty());
    assert_eq!(roster(&app, &org, &anna).await, pairs(&[(ANNA, "owner")]));

    // Revoking twice is a conflict, not a silent success.
    app.delete(
        &format!("{}/{id}", invitations_path(&org)),
        Some(&anna.access),
    )
    .await
    .expect_problem(409);
}

async fn expired_invitation_cannot_be_used(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let token = invite(&app, &org, &anna, JONAS, "member")
        .await
        .str("token");
    assert_eq!(
        app.sql("UPDATE invitations SET expires_at = '2000-01-01 00:00:00'"),
        1
    );
    assert_eq!(
        invitations(&app, &org, &anna).await[0]["status"],
        json!("expired")
    );

    let jonas = app.user(JONAS).await;
    let resp = join(&app, &org, &jonas, &token).await;
    resp.expect_problem(409);
    assert!(memberships(&app, &jonas).await.is_empty());
    assert_eq!(roster(&app, &org, &anna).await, pairs(&[(ANNA, "owner")]));
}

async fn plain_member_cannot_invite_or_list_invitations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;

    invite(&app, &org, &jonas, LENA, "member")
        .await
        .expect_problem(403);
    app.get(&invitations_path(&org), Some(&jonas.access))
        .await
        .expect_problem(403);

    // Only Jonas's own (accepted) invitation exists.
    let listed = invitations(&app, &org, &anna).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["email"], json!(JONAS));
}

async fn only_owners_may_invite_owners(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let lena = app.member(&org, &anna, LENA, "admin").await;

    invite(&app, &org, &lena, PETRA, "owner")
        .await
        .expect_problem(403);
    invite(&app, &org, &lena, JONAS, "member").await.expect(201);
    let by_owner = invite(&app, &org, &anna, PETRA, "owner").await;
    by_owner.expect(201);

    let listed = invitations(&app, &org, &anna).await;
    let emails: Vec<&str> = listed
        .iter()
        .map(|i| i["email"].as_str().expect("email"))
        .collect();
    assert_eq!(emails, vec![LENA, JONAS, PETRA]);

    let petra = app.user(PETRA).await;
    join(&app, &org, &petra, &by_owner.str("token"))
        .await
        .expect(201);
    assert_eq!(memberships(&app, &petra).await, one(&org, "owner"));
}

async fn admin_can_promote_a_member_to_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let lena = app.member(&org, &anna, LENA, "admin").await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;

    let resp = set_role(&app, &org, &lena, &jonas.id, "admin").await;
    resp.expect(200);
    assert_eq!(resp.body["user_id"], json!(jonas.id));
    assert_eq!(resp.body["role"], json!("admin"));

    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[(ANNA, "owner"), (LENA, "admin"), (JONAS, "admin")])
    );
}

async fn admin_cannot_touch_owners_or_grant_ownership(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let lena = app.member(&org, &anna, LENA, "admin").await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;

    set_role(&app, &org, &lena, &anna.id, "member")
        .await
        .expect_problem(403);
    set_role(&app, &org, &lena, &jonas.id, "owner")
        .await
        .expect_problem(403);
    set_role(&app, &org, &lena, &lena.id, "owner")
        .await
        .expect_problem(403);
    app.delete(&member_path(&org, &anna.id), Some(&lena.access))
        .await
        .expect_problem(403);

    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[(ANNA, "owner"), (LENA, "admin"), (JONAS, "member")])
    );
}

async fn owner_can_make_someone_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let lena = app.member(&org, &anna, LENA, "admin").await;

    let resp = set_role(&app, &org, &anna, &lena.id, "owner").await;
    resp.expect(200);
    assert_eq!(resp.body["role"], json!("owner"));

    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[(ANNA, "owner"), (LENA, "owner")])
    );
    assert_eq!(memberships(&app, &lena).await, one(&org, "owner"));
}

async fn last_owner_cannot_demote_themselves_or_leave(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    app.member(&org, &anna, LENA, "admin").await;

    set_role(&app, &org, &anna, &anna.id, "admin")
        .await
        .expect_problem(409);
    app.delete(&member_path(&org, &anna.id), Some(&anna.access))
        .await
        .expect_problem(409);

    assert_eq!(memberships(&app, &anna).await, one(&org, "owner"));
    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[(ANNA, "owner"), (LENA, "admin")])
    );
}

async fn one_of_two_owners_may_leave(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let lena = app.member(&org, &anna, LENA, "owner").await;

    let resp = app
        .delete(&member_path(&org, &anna.id), Some(&anna.access))
        .await;
    resp.expect(204);
    assert!(resp.text.is_empty());

    assert!(memberships(&app, &anna).await.is_empty());
    assert_eq!(roster(&app, &org, &lena).await, pairs(&[(LENA, "owner")]));
    // Now Lena is the last owner.
    app.delete(&member_path(&org, &lena.id), Some(&lena.access))
        .await
        .expect_problem(409);
}

async fn member_can_leave_and_loses_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;
    app.get(&members_path(&org), Some(&jonas.access))
        .await
        .expect(200);

    app.delete(&member_path(&org, &jonas.id), Some(&jonas.access))
        .await
        .expect(204);

    app.get(&members_path(&org), Some(&jonas.access))
        .await
        .expect_problem(403);
    assert!(memberships(&app, &jonas).await.is_empty());
    assert_eq!(roster(&app, &org, &anna).await, pairs(&[(ANNA, "owner")]));
}

async fn admin_removes_a_member(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let lena = app.member(&org, &anna, LENA, "admin").await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;

    app.delete(&member_path(&org, &jonas.id), Some(&lena.access))
        .await
        .expect(204);

    app.get(&members_path(&org), Some(&jonas.access))
        .await
        .expect_problem(403);
    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[(ANNA, "owner"), (LENA, "admin")])
    );
    // Removing someone who is no longer a member is 404.
    app.delete(&member_path(&org, &jonas.id), Some(&lena.access))
        .await
        .expect_problem(404);
}

async fn member_cannot_remove_or_promote_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let lena = app.member(&org, &anna, LENA, "admin").await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;
    let petra = app.member(&org, &anna, PETRA, "member").await;

    for target in [&petra.id, &lena.id, &anna.id] {
        app.delete(&member_path(&org, target), Some(&jonas.access))
            .await
            .expect_problem(403);
    }
    set_role(&app, &org, &jonas, &jonas.id, "admin")
        .await
        .expect_problem(403);
    set_role(&app, &org, &jonas, &petra.id, "admin")
        .await
        .expect_problem(403);

    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[
            (ANNA, "owner"),
            (LENA, "admin"),
            (JONAS, "member"),
            (PETRA, "member")
        ])
    );
}

async fn unknown_role_is_422_and_unknown_member_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, org) = sonne(&app).await;
    let jonas = app.member(&org, &anna, JONAS, "member").await;

    let resp = set_role(&app, &org, &anna, &jonas.id, "chef").await;
    resp.expect_problem(422);
    assert!(
        resp.text.contains("chef"),
        "the problem names the bad value: {}",
        resp.text
    );
    assert_eq!(resp.body["errors"][0]["field"], "role", "{}", resp.text);

    let stranger = uuid::Uuid::new_v4().to_string();
    set_role(&app, &org, &anna, &stranger, "admin")
        .await
        .expect_problem(404);
    app.delete(&member_path(&org, &stranger), Some(&anna.access))
        .await
        .expect_problem(404);
    set_role(&app, &org, &anna, "not-a-uuid", "admin")
        .await
        .expect_problem(400);

    assert_eq!(
        roster(&app, &org, &anna).await,
        pairs(&[(ANNA, "owner"), (JONAS, "member")])
    );
}

async fn users_of_another_org_cannot_manage_its_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (anna, sonne_org) = sonne(&app).await;
    let jonas = app.member(&sonne_org, &anna, JONAS, "member").await;
    let pending = invite(&app, &sonne_org, &anna, LENA, "admin").await;
    let pending_id = pending.str("id");
    let bernd = app.user("bernd@kundenwerk.example").await;
    let kundenwerk = app.org(&bernd, "Kundenwerk GmbH").await;

    app.get(&members_path(&sonne_org), Some(&bernd.access))
        .await
        .expect_problem(403);
    app.get(&invitations_path(&sonne_org), Some(&bernd.access))
        .await
        .expect_problem(403);
    invite(&app, &sonne_org, &bernd, "spy@kundenwerk.example", "owner")
        .await
        .expect_problem(403);
    set_role(&app, &sonne_org, &bernd, &jonas.id, "owner")
        .await
        .expect_problem(403);
    app.delete(&member_path(&sonne_org, &jonas.id), Some(&bernd.access))
        .await
        .expect_problem(403);
    app.delete(
        &format!("{}/{pending_id}", invitations_path(&sonne_org)),
        Some(&bernd.access),
    )
    .await
    .expect_problem(403);
    // Gasthof Sonne's invitation id under Kundenwerk's path does not exist.
    app.delete(
        &format!("{}/{pending_id}", invitations_path(&kundenwerk)),
        Some(&bernd.access),
    )
    .await
    .expect_problem(404);
    // Nor do Gasthof Sonne's members.
    set_role(&app, &kundenwerk, &bernd, &jonas.id, "admin")
        .await
        .expect_problem(404);

    assert_eq!(
        roster(&app, &sonne_org, &anna).await,
        pairs(&[(ANNA, "owner"), (JONAS, "member")])
    );
    let listed = invitations(&app, &sonne_org, &anna).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["id"], json!(pending_id));
    assert_eq!(listed[1]["status"], json!("pending"));
    assert!(invitations(&app, &kundenwerk, &bernd).await.is_empty());
    assert_eq!(memberships(&app, &bernd).await, one(&kundenwerk, "owner"));
}

backends!(
    invitee_joins_with_the_invited_role,
    invitation_without_role_makes_a_member,
    invitation_with_invalid_email_is_422,
    invitation_token_cannot_be_used_twice,
    invitation_for_another_email_is_forbidden,
    invitation_of_one_org_is_unknown_in_another,
    revoked_invitation_cannot_be_used,
    expired_invitation_cannot_be_used,
    plain_member_cannot_invite_or_list_invitations,
    only_owners_may_invite_owners,
    admin_can_promote_a_member_to_admin,
    admin_cannot_touch_owners_or_grant_ownership,
    owner_can_make_someone_owner,
    last_owner_cannot_demote_themselves_or_leave,
    one_of_two_owners_may_leave,
    member_can_leave_and_loses_access,
    admin_removes_a_member,
    member_cannot_remove_or_promote_others,
    unknown_role_is_422_and_unknown_member_is_404,
    users_of_another_org_cannot_manage_its_members,
);
