// Type-checked only (`tsc --noEmit`, never run): openapi-fetch calls against the types that
// openapi-typescript generates from the committed openapi/openapi.json into ./schema.ts.
// Every name and literal below is one that docs/DESIGN.md's field contract promises, so a
// contract that drifts from it fails to compile.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];

/** The fields of a problem document, read from an error response's typed body. */
export function describeProblem(problem: Problem): string {
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
  const status: number = problem.status;
  const parts: string[] = [problem.type, problem.title, String(status), problem.detail, ...fields];
  return parts.join(" | ");
}

export async function flow(baseUrl: string, email: string, password: string): Promise<void> {
  const anonymous = createClient<paths>({ baseUrl });

  // login: email + password in, access + refresh token out.
  const login = await anonymous.POST("/api/v1/auth/login", { body: { email, password } });
  if (login.error) {
    throw new Error(describeProblem(login.error));
  }
  const tokenType: string = login.data.token_type;
  const expiresIn: number = login.data.expires_in;
  const refresh: string = login.data.refresh_token;
  const api = createClient<paths>({
    baseUrl,
    headers: { Authorization: `${tokenType} ${login.data.access_token}` },
  });
  void expiresIn;
  void refresh;

  // An organisation: name + industry, optional description/website/region.
  const org = await api.POST("/api/v1/orgs", {
    body: { name: "Kundenwerk GmbH", industry: "hospitality", region: "tirol" },
    params: { header: { "Idempotency-Key": "org-1" } },
  });
  if (org.error) {
    throw new Error(describeProblem(org.error));
  }
  const orgId: string = org.data.id;

  // create listing
  const created = await api.POST("/api/v1/listings", {
    body: {
      org_id: orgId,
      kind: "offer",
      category: "expertise",
      title: "Schulung Kundenservice",
      description: "Zwei Workshops für das Empfangsteam",
      tags: ["kundenservice", "schulung"],
    },
    params: { header: { "Idempotency-Key": "listing-1" } },
  });
  if (created.error) {
    throw new Error(describeProblem(created.error));
  }
  const listing: Schemas["ListingView"] = created.data;
  const status: "draft" | "pending_review" | "published" | "rejected" | "archived" | "removed" = listing.status;
  const version: number = listing.version;
  const tags: string[] = listing.tags;
  void status;
  void version;
  void tags;

  // submit it; moderation answers the listing, approve takes an optional note
  const submitted = await api.POST("/api/v1/listings/{id}/submit", { params: { path: { id: listing.id } } });
  if (submitted.data) {
    const pending: Schemas["ListingStatus"] = submitted.data.status;
    void pending;
  }
  await api.POST("/api/v1/moderation/listings/{id}/approve", { params: { path: { id: listing.id } } });
  await api.POST("/api/v1/moderation/listings/{id}/reject", {
    params: { path: { id: listing.id } },
    body: { reason: "Nicht belegt" },
  });

  // list listings with query parameters (public: no token)
  const page = await anonymous.GET("/api/v1/listings", {
    params: {
      query: {
        q: "kundenservice",
        kind: "need",
        category: "resource",
        tag: ["catering"],
        industry: "hospitality",
        region: "tirol",
        org_id: orgId,
        trial: true,
        limit: 20,
        cursor: "opaque",
      },
    },
  });
  if (page.error) {
    console.log(describeProblem(page.error));
  } else {
    const next: string | null | undefined = page.data.next_cursor;
    const first: Schemas["ListingView"] | undefined = page.data.items[0];
    const kind: "offer" | "need" | undefined = first?.kind;
    const category: "expertise" | "resource" | undefined = first?.category;
    void next;
    void kind;
    void category;
  }

  // a proposal with terms both sides give, then read it back
  const item: Schemas["Item"] = { category: "expertise", description: "Zwei Workshops", quantity: 8, unit: "hours" };
  const proposal = await api.POST("/api/v1/proposals", {
    body: {
      from_org_id: orgId,
      to_org_id: orgId,
      kind: "exchange",
      message: "Ein fairer Tausch?",
      terms: { from_gives: [item], to_gives: [{ category: "referral", description: "Empfehlung an Partner" }] },
      confidential: false,
    },
  });
  if (proposal.error) {
    throw new Error(describeProblem(proposal.error));
  }
  const got = await api.GET("/api/v1/proposals/{id}", { params: { path: { id: proposal.data.id } } });
  if (got.error) {
    // the problem type of a 401/404
    const problem: Problem = got.error;
    console.log(describeProblem(problem));
    return;
  }
  const open: "open" | "accepted" | "declined" | "withdrawn" | "expired" = got.data.status;
  const revision: Schemas["RevisionView"] = got.data.revisions[got.data.revisions.length - 1];
  const revisionNumber: number = revision.number;
  const author: string = revision.author_org_id;
  const gives: Schemas["Item"][] = revision.terms.to_gives;
  void open;
  void author;
  void gives;

  // counter, accept (with the revision read), agreement fields
  await api.POST("/api/v1/proposals/{id}/counter", {
    params: { path: { id: got.data.id } },
    body: { terms: revision.terms, message: "Gegenangebot" },
  });
  const accepted = await api.POST("/api/v1/proposals/{id}/accept", {
    params: { path: { id: got.data.id } },
    body: { revision: revisionNumber },
  });
  const agreementId: string | null | undefined = accepted.data?.agreement_id;
  if (agreementId) {
    const agreement = await anonymous.GET("/api/v1/agreements/{id}", { params: { path: { id: agreementId } } });
    const leaf: number | undefined = agreement.data?.log_entries[0]?.leaf_index;
    const commitment: string | undefined = agreement.data?.terms_commitment;
    void leaf;
    void commitment;
  }

  // a webhook for named event types (the wire names of DESIGN.md)
  const hook = await api.POST("/api/v1/orgs/{org_id}/webhooks", {
    params: { path: { org_id: orgId } },
    body: { url: "https://erp.example/mutua", event_types: ["agreement.completed", "proposal.received"] },
  });
  const secret: string | null | undefined = hook.data?.secret;
  void secret;

  // transparency: inclusion proof by query parameters
  const proof = await anonymous.GET("/api/v1/transparency/proofs/inclusion", {
    params: { query: { leaf_index: 0, tree_size: 1 } },
  });
  const hashes: string[] | undefined = proof.data?.hashes;
  void hashes;

  // a 404 read as the typed problem
  const missing = await anonymous.GET("/api/v1/listings/{id}", {
    params: { path: { id: "00000000-0000-0000-0000-000000000000" } },
  });
  if (missing.error) {
    const problem: Problem = missing.error;
    const field: string | undefined = problem.errors?.[0]?.field;
    void field;
  }
}
