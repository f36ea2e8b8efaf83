//! google.rpc.Status errors as Google's front end writes them: the code names, the canonical
//! messages, Cloud SQL's legacy `errors[]` shape, quota errors with ErrorInfo, Help and
//! (optionally) RetryInfo details, and the 400s for malformed requests ("Invalid JSON payload
//! received…", "Invalid value at…"). Pure.

use std::time::Duration;

use serde_json::{Value, json};

use super::Reply;
use crate::sim::resources::project_number;

/// The google.rpc.Code name for an HTTP status, as the JSON `status` field carries it.
pub(crate) fn code_name(http: u16) -> &'static str {
    match http {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// The HTTP status of a google.rpc.Code name (`"UNAVAILABLE"` → 503).
pub(crate) fn rpc_code_of(name: &str) -> Option<u16> {
    Some(match name {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ABORTED" | "ALREADY_EXISTS" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => 500,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => return None,
    })
}

/// `{"error":{"code":…,"message":…,"status":…}}`.
pub(crate) fn rpc_error(code: u16, status: &str, message: &str) -> Reply {
    Reply {
        status: code,
        body: json!({"error": {"code": code, "message": message, "status": status}}),
    }
}

/// Cloud SQL's errors: no `status`, a legacy `errors[]` with a reason (real-samples).
pub(crate) fn sql_error(code: u16, reason: &str, message: &str) -> Reply {
    Reply {
        status: code,
        body: json!({"error": {
            "code": code,
            "errors": [{"domain": "global", "message": message, "reason": reason}],
            "message": message
        }}),
    }
}

/// Cloud SQL's answer when another operation holds the instance.
pub(crate) fn sql_busy() -> Reply {
    sql_error(
        409,
        "operationInProgress",
        "Operation failed because another operation was already in progress.",
    )
}

/// A 404 for a path no simulated API serves.
pub(crate) fn not_found() -> Reply {
    rpc_error(404, "NOT_FOUND", "Requested entity was not found.")
}

/// A 404 for a method the API does not have on this path.
pub(crate) fn no_method() -> Reply {
    rpc_error(404, "NOT_FOUND", "Method not found.")
}

/// A 400 for a body that is not JSON.
pub(crate) fn bad_json(why: &str) -> Reply {
    bad_request(&format!("Invalid JSON payload received. {why}"))
}

/// A 400 for a field the request message does not have.
pub(crate) fn unknown_field(at: &str, name: &str) -> Reply {
    let place = if at.is_empty() {
        String::new()
    } else {
        format!(" at '{at}'")
    };
    bad_request(&format!(
        "Invalid JSON payload received. Unknown name \"{name}\"{place}: Cannot find field."
    ))
}

/// A 400 for a value of the wrong type or outside an enum: `Invalid value at 'page_size'
/// (TYPE_INT32), "abc"`.
pub(crate) fn invalid_value(field: &str, type_name: &str, value: &str) -> Reply {
    bad_request(&format!(
        "Invalid value at '{field}' ({type_name}), \"{value}\""
    ))
}

/// INVALID_ARGUMENT with a BadRequest detail, as Google's front end answers a malformed
/// request.
fn bad_request(description: &str) -> Reply {
    Reply {
        status: 400,
        body: json!({"error": {
            "code": 400,
            "message": description,
            "status": "INVALID_ARGUMENT",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"description": description}]
            }]
        }}),
    }
}

/// The error a scenario injected, shaped as `service` (`sqladmin.googleapis.com`) answers it
/// for `project`: quota errors carry ErrorInfo and Help (and RetryInfo when a delay is set);
/// Cloud SQL adds its legacy `errors[]`.
pub(crate) fn injected(
    code: u16,
    retry_delay: Option<Duration>,
    service: &str,
    project: &str,
) -> Reply {
    let status = code_name(code);
    let number = project_number(project);
    let sql = service.starts_with("sqladmin");
    let (message, reason) = match code {
        429 => (
            format!(
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service '{service}' for consumer 'project_number:{number}'."
            ),
            "rateLimitExceeded",
        ),
        503 => ("The service is currently unavailable.".to_string(), "backendError"),
        401 => (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.".to_string(),
            "authError",
        ),
        403 => ("The caller does not have permission".to_string(), "forbidden"),
        404 => ("Requested entity was not found.".to_string(), "notFound"),
        504 => ("The request timed out. Please try again.".to_string(), "backendError"),
        400 => ("Request contains an invalid argument.".to_string(), "badRequest"),
        _ => ("Internal error encountered.".to_string(), "backendError"),
    };
    let mut details = Vec::new();
    if code == 429 {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": service,
                "consumer": format!("projects/{number}"),
                "quota_metric": format!("{service}/default_requests"),
                "quota_limit": "defaultPerMinutePerProject",
                "quota_limit_value": "180",
                "quota_location": "global"
            }
        }));
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{
                "description": "Request a higher quota limit.",
                "url": "https://cloud.google.com/docs/quotas/help/request_increase"
            }]
        }));
    }
    if let Some(delay) = retry_delay {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": proto_duration(delay)
        }));
    }
    let mut error = json!({"code": code, "message": message, "status": status});
    if sql {
        error["errors"] = json!([{"message": message, "domain": "global", "reason": reason}]);
    }
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    Reply {
        status: code,
        body: json!({ "error": error }),
    }
}

/// A protobuf JSON duration: `"53s"`, `"1.500s"`.
pub(crate) fn proto_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for code in [400, 401, 403, 404, 409, 429, 500, 501, 503, 504] {
            assert_eq!(rpc_code_of(code_name(code)), Some(code));
        }
        assert_eq!(rpc_code_of("NOPE"), None);
    }

    #[test]
    fn quota_errors_carry_error_info_and_optional_retry_info() {
        let with = injected(
            429,
            Some(Duration::from_secs(30)),
            "run.googleapis.com",
            "p",
        );
        assert_eq!(with.status, 429);
        assert_eq!(with.body["error"]["status"], "RESOURCE_EXHAUSTED");
        let details = with.body["error"]["details"].as_array().expect("details");
        assert_eq!(details.len(), 3);
        assert_eq!(details[2]["retryDelay"], "30s");
        assert!(with.body["error"].get("errors").is_none());
        let without = injected(429, None, "sqladmin.googleapis.com", "p");
        assert_eq!(
            without.body["error"]["details"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(
            without.body["error"]["errors"][0]["reason"],
            "rateLimitExceeded"
        );
        let down = injected(503, None, "redis.googleapis.com", "p");
        assert_eq!(
            down.body["error"]["message"],
            "The service is currently unavailable."
        );
        assert!(down.body["error"].get("details").is_none());
        assert_eq!(proto_duration(Duration::from_millis(1500)), "1.500s");
    }
}
