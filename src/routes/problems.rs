//! The pages the problem `type`s resolve to: `/problems` lists every problem type,
//! `/problems/<slug>` describes one, for the people reading a problem document.

use actix_web::{get, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{problem_type, ApiError, ApiResult, ProblemType, PROBLEM_TYPES};

/// Routes of this module.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(index).service(page);
}

/// Every problem type the API answers with, each linking to its page.
#[utoipa::path(
    tag = "ops",
    responses((status = 200, description = "An HTML page listing the problem types", content_type = "text/html"))
)]
#[get("/problems")]
async fn index() -> HttpResponse {
    let rows: String = PROBLEM_TYPES
        .iter()
        .map(|t| {
            format!(
                "<li><a href=\"/problems/{slug}\"><code>/problems/{slug}</code></a> — {status} {title}</li>\n",
                slug = t.slug,
                status = t.status,
                title = t.title
            )
        })
        .collect();
    html(
        "Mutua problem types",
        &format!(
            "<p>Every error of the Mutua API is an RFC 9457 problem document \
             (<code>application/problem+json</code>) whose <code>type</code> is one of these. \
             <code>instance</code> is the path of the request and <code>request_id</code> its \
             <code>X-Request-Id</code>.</p>\n<ul>\n{rows}</ul>"
        ),
    )
}

/// What one problem type means and what to do about it.
#[utoipa::path(
    tag = "ops",
    params(("slug" = String, Path, description = "The last segment of the problem's `type`", pattern = "^[a-z-]{1,40}$")),
    responses(
        (status = 200, description = "An HTML page describing the problem type", content_type = "text/html"),
        (status = 404, description = "No such problem type", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/problems/{slug}")]
async fn page(slug: web::Path<String>) -> ApiResult<HttpResponse> {
    let kind = problem_type(&slug)
        .ok_or_else(|| ApiError::NotFound(format!("no problem type {:?}", slug.as_str())))?;
    Ok(describe(kind))
}

fn describe(kind: &ProblemType) -> HttpResponse {
    html(
        &format!("{} ({})", kind.title, kind.status),
        &format!(
            "<p><code>type: \"/problems/{slug}\"</code>, status {status}.</p>\n<p>{about}</p>\n\
             <p>The problem's <code>detail</code> says what was wrong with this request; \
             <code>request_id</code> names it in the server's logs. \
             <a href=\"/problems\">All problem types</a> · <a href=\"/docs/\">API docs</a></p>",
            slug = kind.slug,
            status = kind.status,
            about = escape(kind.about)
        ),
    )
}

fn html(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{title}</title></head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n"
        ))
}

/// The problem descriptions are this crate's own text; backticks become code.
fn escape(text: &str) -> String {
    let text = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
        } else {
            out.push_str(part);
        }
    }
    out
}
