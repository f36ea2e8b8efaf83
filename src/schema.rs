//! JSON Schemas of the files people write, generated from the same tables the loaders use,
//! so editors can validate estate, runbook and theme files as they are typed.

use serde_json::{Map, Value, json};

use crate::estate::Kind;
use crate::estate::kind::COMMON_KEYS;

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// A duration written with its unit: "30s", "10m", "1h30m", "500ms".
fn duration() -> Value {
    json!({
        "type": "string",
        "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ns|us|µs|ms|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks)\\s*)+$",
        "description": "A duration with its unit, like \"30s\", \"10m\" or \"500ms\"."
    })
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// The schema of one key of a `[[service]]` table.
fn service_key(key: &str) -> Value {
    match key {
        "id" => {
            json!({"type": "string", "pattern": "^[A-Za-z0-9._-]+$", "description": "Unique id; letters, digits, '-', '_' and '.'."})
        }
        "kind" => json!({"enum": Kind::ALL.map(Kind::as_str)}),
        "sev" => {
            json!({"type": "integer", "minimum": 1, "maximum": 4, "description": "SEV of this service's full outage: 1 worst … 4 minor."})
        }
        "depends_on" => json!({
            "type": "array",
            "items": {"oneOf": [
                {"type": "string"},
                {"type": "object", "additionalProperties": false, "required": ["id"],
                 "properties": {"id": {"type": "string"}, "fallback": {"type": "string"}, "fallback_for": duration()}}
            ]}
        }),
        "runbooks" => json!({"type": "array", "items": {"type": "string"}}),
        "interval" | "timeout" | "max_latency" | "max_oldest_age" => duration(),
        "warn_depth" | "crit_depth" => json!({"type": "integer", "minimum": 0}),
        "expect_status" => json!({"type": "integer", "minimum": 100, "maximum": 599}),
        "format" => json!({"enum": ["celery", "laravel"]}),
        "workload" => {
            json!({"type": "string", "pattern": "^(deployment|deploy|statefulset|sts|daemonset|ds)/.+$"})
        }
        "url" => json!({"type": "string", "pattern": "^[a-z][a-z0-9+.-]*://"}),
        other => string(&format!("The '{other}' key.")),
    }
}

/// The `[[maintenance]]` windows of an estate.
fn maintenance() -> Value {
    json!({
        "type": "array",
        "description": "Recurring maintenance windows: their services are shown silenced while open.",
        "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["name", "services", "start", "duration"],
            "properties": {
                "name": {"type": "string"},
                "services": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "days": {"oneOf": [
                    {"const": "daily"},
                    {"type": "array", "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]}}
                ]},
                "start": {"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$", "description": "Local time it opens, 24-hour: \"02:00\"."},
                "duration": duration(),
                "time_zone": string("An IANA time zone (\"Europe/Brussels\"), \"UTC\", or an offset (\"+02:00\"); default UTC."),
                "reason": string("Why, shown with the silence.")
            }
        }
    })
}

/// The estate file's schema.
pub fn estate() -> Value {
    let mut all_keys: Vec<&str> = COMMON_KEYS.to_vec();
    for k in Kind::ALL {
        for key in k.required_keys().iter().chain(k.optional_keys()) {
            if !all_keys.contains(key) {
                all_keys.push(key);
            }
        }
    }
    let properties: Map<String, Value> = all_keys
        .iter()
        .map(|k| ((*k).to_string(), service_key(k)))
        .collect();
    let per_kind: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| {
            let mut allowed: Vec<&str> = COMMON_KEYS.to_vec();
            allowed.extend(k.required_keys());
            allowed.extend(k.optional_keys());
            json!({
                "if": {"properties": {"kind": {"const": k.as_str()}}, "required": ["kind"]},
                "then": {"required": k.required_keys(), "propertyNames": {"enum": allowed}}
            })
        })
        .collect();
    json!({
        "$schema": DRAFT,
        "title": "opsdeck estate",
        "description": "What exists, where, how much it matters and what depends on what.",
        "type": "object",
        "additionalProperties": false,
        "required": ["name"],
        "properties": {
            "name": string("The estate's name."),
            "environment": string("prod, staging, dev…: the console's banner colour."),
            "rto": duration(),
            "rpo": duration(),
            "read_only": {"type": "boolean"},
            "sev_names": {"type": "array", "items": {"type": "string"}, "minItems": 4, "maxItems": 4},
            "kubeconfig": string("The kubeconfig for Kubernetes workloads."),
            "gcp": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "project": {"type": "string"},
                    "endpoint": {"type": "string"},
                    "auth": {"enum": ["adc", "metadata", "none"]},
                    "metadata_endpoint": {"type": "string"}
                }
            },
            "lease": {"type": "object"},
            "region": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string"},
                        "gcp_region": {"type": "string"},
                        "project": {"type": "string"},
                        "kube_context": {"type": "string"}
                    }
                }
            },
            "maintenance": maintenance(),
            "service": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["id", "kind", "sev"],
                    "properties": properties,
                    "allOf": per_kind
                }
            }
        }
    })
}

/// The runbook file's schema (runbooks/*.toml).
pub fn runbook() -> Value {
    json!({
        "$schema": DRAFT,
        "title": "opsdeck runbook",
        "description": "Steps that act on one target service: checks, actions, waits and manual steps.",
        "type": "object",
        "required": ["title", "step"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "applies_to": {"type": "object"},
            "destructive": {"type": "boolean"},
            "param": {"type": "array", "items": {"type": "object", "required": ["name"]}},
            "step": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "check": {"type": "string"},
                        "action": {"type": "string"},
                        "wait": {"type": "string"},
                        "manual": {"type": "string"},
                        "explain": {"type": "string"},
                        "timeout": duration(),
                        "on_failure": {"type": "string"}
                    }
                }
            }
        }
    })
}

/// A theme role: colours, attributes and a glyph.
fn role() -> Value {
    let colour = json!({"oneOf": [
        {"type": "string", "description": "A colour name (red, lightred, darkgray…) or \"#rrggbb\"."},
        {"type": "integer", "minimum": 0, "maximum": 255, "description": "A 256-colour index."}
    ]});
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "fg": colour, "bg": colour,
            "bold": {"type": "boolean"}, "dim": {"type": "boolean"}, "italic": {"type": "boolean"},
            "underline": {"type": "boolean"}, "reverse": {"type": "boolean"},
            "glyph": {"type": "string", "maxLength": 3}
        }
    })
}

/// The theme file's schema.
pub fn theme() -> Value {
    let section = json!({"type": "object", "additionalProperties": role()});
    json!({
        "$schema": DRAFT,
        "title": "opsdeck theme",
        "description": "Semantic roles over a base theme; name only what you change.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string"},
            "base": {"type": "string", "description": "The theme beneath (default-dark unless said; none for nothing)."},
            "colors": {"type": "boolean", "description": "false: no colours at all, only attributes and glyphs."},
            "state": section, "sev": section, "banner": section, "ui": section
        }
    })
}

/// A TOML document as the JSON a schema validator reads.
pub fn toml_to_json(text: &str) -> Result<Value, String> {
    let value: toml::Value = toml::from_str(text).map_err(|e| e.message().to_string())?;
    serde_json::to_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estate_schema_knows_every_kind() {
        let s = estate();
        let kinds = &s["properties"]["service"]["items"]["properties"]["kind"]["enum"];
        assert_eq!(kinds.as_array().map(Vec::len), Some(Kind::ALL.len()));
        let all_of = s["properties"]["service"]["items"]["allOf"]
            .as_array()
            .expect("per kind");
        assert_eq!(all_of.len(), Kind::ALL.len());
    }
}
