//! The OAuth 2.0 token endpoint as `oauth2.googleapis.com/token` answers it: a service
//! account's JWT-bearer grant or an authorized user's refresh-token grant (form-encoded or
//! JSON, as google-cloud-auth sends it) becomes an access token; anything else gets the
//! OAuth error body Google sends. The simulator checks shapes, never signatures.

use serde_json::{Map, Value, json};

use super::google::{Reply, query_param};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Answers `POST /token`; `serial` numbers the token handed out, `now` is in Unix seconds.
pub(crate) fn answer(method: &str, body: &[u8], serial: u64, now: i64) -> Reply {
    if method != "POST" {
        return error(
            405,
            "invalid_request",
            "The token endpoint only accepts POST.",
        );
    }
    let params = params(body);
    let param = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let grant = param("grant_type").unwrap_or_default();
    let token = |scope: Option<&str>| {
        let mut t = json!({
            "access_token": format!("ya29.sim-oauth-{serial}"),
            "expires_in": 3599,
            "token_type": "Bearer"
        });
        if let Some(s) = scope {
            t["scope"] = json!(s);
        }
        Reply::ok(t)
    };
    match grant {
        "refresh_token" => {
            if param("refresh_token").is_none() {
                return error(
                    400,
                    "invalid_request",
                    "Missing required parameter: refresh_token",
                );
            }
            if param("client_id").is_none() {
                return error(401, "invalid_client", "The OAuth client was not found.");
            }
            token(param("scopes").or_else(|| param("scope")))
        }
        JWT_BEARER => {
            let Some(assertion) = param("assertion") else {
                return error(
                    400,
                    "invalid_request",
                    "Missing required parameter: assertion",
                );
            };
            let Some(claims) = jwt_claims(assertion) else {
                return error(
                    400,
                    "invalid_grant",
                    "Invalid JWT: the assertion is not a signed JWT (header.claims.signature).",
                );
            };
            if claims
                .get("iss")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return error(
                    400,
                    "invalid_grant",
                    "Invalid JWT: the iss claim is missing.",
                );
            }
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
            let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
            if exp <= now || iat > now.saturating_add(300) || exp.saturating_sub(iat) > 3600 {
                return error(
                    400,
                    "invalid_grant",
                    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
                );
            }
            if let Some(audience) = claims.get("target_audience").and_then(Value::as_str) {
                return Reply::ok(
                    json!({"id_token": format!("eyJhbGciOiJSUzI1NiJ9.{}.c2lt", b64url(&json!({"aud": audience, "iss": "https://accounts.google.com", "exp": now + 3600, "iat": now}).to_string()))}),
                );
            }
            token(claims.get("scope").and_then(Value::as_str))
        }
        "" => error(400, "unsupported_grant_type", "Invalid grant_type: "),
        other => error(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
    }
}

fn error(status: u16, code: &str, description: &str) -> Reply {
    Reply {
        status,
        body: json!({"error": code, "error_description": description}),
    }
}

/// The request parameters: a JSON object, or a form-encoded body.
fn params(body: &[u8]) -> Map<String, Value> {
    let text = String::from_utf8_lossy(body);
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(&text).unwrap_or_default();
    }
    [
        "grant_type",
        "refresh_token",
        "client_id",
        "client_secret",
        "assertion",
        "scope",
        "scopes",
    ]
    .iter()
    .filter_map(|k| query_param(Some(&text), k).map(|v| ((*k).to_string(), Value::String(v))))
    .collect()
}

/// The claims of `header.claims.signature`, when the first two parts are base64url JSON.
fn jwt_claims(jwt: &str) -> Option<Map<String, Value>> {
    let mut parts = jwt.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || signature.is_empty() {
        return None;
    }
    let header: Value = serde_json::from_slice(&b64url_decode(header)?).ok()?;
    header.get("alg")?;
    match serde_json::from_slice(&b64url_decode(claims)?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)?;
        bits = (bits << 6) | u32::try_from(v).ok()?;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push(u8::try_from((bits >> n) & 0xff).ok()?);
        }
    }
    Some(out)
}

fn b64url(text: &str) -> String {
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &Value) -> String {
        format!(
            "{}.{}.c2ln",
            b64url("{\"alg\":\"RS256\",\"typ\":\"JWT\"}"),
            b64url(&claims.to_string())
        )
    }

    #[test]
    fn grants_tokens_for_jwt_bearer_and_refresh_token() {
        let now = 1_700_000_000;
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
            jwt(
                &json!({"iss": "sa@p.iam.gserviceaccount.com", "scope": "https://www.googleapis.com/auth/cloud-platform", "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600})
            )
        );
        let r = answer("POST", form.as_bytes(), 1, now);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["token_type"], "Bearer");
        let refresh = br#"{"grant_type":"refresh_token","client_id":"x","client_secret":"s","refresh_token":"1//r","scopes":null}"#;
        assert_eq!(
            answer("POST", refresh, 2, now).body["access_token"],
            "ya29.sim-oauth-2"
        );
    }

    #[test]
    fn refuses_what_google_refuses() {
        let now = 1_700_000_000;
        assert_eq!(
            answer("POST", b"", 1, now).body["error"],
            "unsupported_grant_type"
        );
        assert_eq!(
            answer("POST", b"grant_type=refresh_token", 1, now).body["error_description"],
            "Missing required parameter: refresh_token"
        );
        let expired = format!(
            "grant_type={JWT_BEARER}&assertion={}",
            jwt(&json!({"iss": "a", "iat": now - 7200, "exp": now - 3600}))
        );
        assert_eq!(
            answer("POST", expired.as_bytes(), 1, now).body["error"],
            "invalid_grant"
        );
        assert_eq!(
            answer(
                "POST",
                format!("grant_type={JWT_BEARER}&assertion=nope").as_bytes(),
                1,
                now
            )
            .body["error"],
            "invalid_grant"
        );
        assert_eq!(answer("GET", b"", 1, now).status, 405);
        assert_eq!(
            b64url_decode(&b64url("hello?")).as_deref(),
            Some(&b"hello?"[..])
        );
    }
}
