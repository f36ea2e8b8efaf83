//! The GCE metadata server, enough for google-cloud-auth (and other Google client libraries)
//! to take their credentials from the simulator unchanged: tokens, the service account's email
//! and scopes, the project and the universe domain. Every request must carry
//! `Metadata-Flavor: Google`, as on a real VM.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use serde_json::json;

use super::resources::project_number;

const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];

/// Answers `/computeMetadata/v1/…`; `rest` is the path after `/computeMetadata/v1/`. `serial`
/// numbers the token handed out.
pub(crate) fn answer(
    headers: &HeaderMap,
    rest: &str,
    query: Option<&str>,
    project: &str,
    serial: u64,
) -> Response {
    let flavoured = headers
        .get("metadata-flavor")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("Google"));
    if !flavoured {
        return reply(
            StatusCode::FORBIDDEN,
            "text/html; charset=UTF-8",
            "<!DOCTYPE html>\n<html lang=en>\n  <title>Error 403 (Forbidden)!!1</title>\n  <p><b>403.</b> <ins>That's an error.</ins>\n  <p>Your client does not have permission to get URL <code>/computeMetadata/v1/</code> from this server. Missing Metadata-Flavor:Google header. <ins>That's all we know.</ins>\n".to_string(),
        );
    }
    let email = format!("opsdeck-sim@{project}.iam.gserviceaccount.com");
    let recursive = super::google::query_param(query, "recursive").is_some_and(|v| v == "true");
    let account = |name: &str| name == "default" || name == email;
    let rest = rest.trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();

    match segments.as_slice() {
        ["instance", "service-accounts", name, "token"] if account(name) => json_reply(&json!({
            "access_token": format!("sim-token-{serial}"),
            "expires_in": 3599,
            "token_type": "Bearer"
        })),
        ["instance", "service-accounts", name, "email"] if account(name) => text(email),
        ["instance", "service-accounts", name, "scopes"] if account(name) => {
            text(SCOPES.iter().flat_map(|s| [*s, "\n"]).collect())
        }
        ["instance", "service-accounts", name, "aliases"] if account(name) => text("default\n".to_string()),
        ["instance", "service-accounts", name] if account(name) => {
            if recursive {
                json_reply(&json!({"aliases": ["default"], "email": email, "scopes": SCOPES}))
            } else {
                text("aliases\nemail\nidentity\nscopes\ntoken\n".to_string())
            }
        }
        ["instance", "service-accounts"] => text(format!("default/\n{email}/\n")),
        ["universe", "universe-domain"] => text("googleapis.com".to_string()),
        ["project", "project-id"] => text(project.to_string()),
        ["project", "numeric-project-id"] => text(project_number(project).to_string()),
        ["instance", "zone"] => text(format!("projects/{}/zones/europe-west1-b", project_number(project))),
        ["instance", "id"] => text((project_number(project) * 1000 + 17).to_string()),
        ["instance", "hostname"] => text(format!("opsdeck-sim.europe-west1-b.c.{project}.internal")),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/html; charset=UTF-8",
            "<!DOCTYPE html>\n<html lang=en>\n  <title>Error 404 (Not Found)!!1</title>\n  <p><b>404.</b> <ins>That's an error.</ins>\n  <p>The requested URL was not found on this server. <ins>That's all we know.</ins>\n".to_string(),
        ),
    }
}

fn text(body: String) -> Response {
    reply(StatusCode::OK, "application/text", body)
}

fn json_reply(value: &serde_json::Value) -> Response {
    reply(StatusCode::OK, "application/json", value.to_string())
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    h.insert(
        "metadata-flavor",
        header::HeaderValue::from_static("Google"),
    );
    h.insert(
        header::SERVER,
        header::HeaderValue::from_static("Metadata Server for VM"),
    );
    response
}
