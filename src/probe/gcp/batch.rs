//! Batched Google reads: one list call per (API, project, region) serves every service of
//! that key. Concurrent probes share one call in flight, and a finished list is reused for a
//! short while, so a poll cycle makes one request per key however many services it covers.
//! Pages are followed to the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use serde_json::Value;
use tokio::time::Instant;

use super::{GoogleClient, GoogleError};

/// How long a fetched list answers for every service of its key. Shorter than any poll
/// interval, longer than the spread of one cycle's probes.
pub const REUSE_FOR: Duration = Duration::from_secs(10);
/// Pages followed at most (Google's lists page at 500–1000 items).
const MAX_PAGES: usize = 200;

/// One list's items, or why it could not be had.
pub type Listed = Result<Arc<Listing>, GoogleError>;

/// The items of a list, and the locations Google could not reach for it (a `locations/-`
/// list leaves out the resources of a region it cannot reach and names the region in
/// `unreachable`). Reads as the items.
#[derive(Debug, Default)]
pub struct Listing {
    pub items: Vec<Value>,
    /// `projects/P/locations/REGION`, as Google names them.
    pub unreachable: Vec<String>,
}

impl std::ops::Deref for Listing {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.items
    }
}

impl Listing {
    /// Whether the list says it could not reach this region (`europe-west1`).
    pub fn unreachable_region(&self, region: &str) -> bool {
        let suffix = format!("/locations/{region}");
        self.unreachable
            .iter()
            .any(|u| u == region || u.ends_with(&suffix))
    }
}

struct Entry {
    started: Instant,
    fetch: Shared<BoxFuture<'static, Listed>>,
}

/// Lists by URL, shared by every probe of one estate.
#[derive(Default)]
pub struct ListCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl ListCache {
    /// The items of the list at `url` (under `field`, e.g. `instances`), fetched once for
    /// everyone asking within [`REUSE_FOR`].
    pub async fn items(
        &self,
        client: Arc<GoogleClient>,
        url: String,
        field: &'static str,
    ) -> Listed {
        let fetch = {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            entries.retain(|_, e| now.duration_since(e.started) < REUSE_FOR * 6);
            match entries.get(&url) {
                Some(e) if now.duration_since(e.started) < REUSE_FOR => e.fetch.clone(),
                _ => {
                    let fetch = fetch_all(client, url.clone(), field).boxed().shared();
                    entries.insert(
                        url,
                        Entry {
                            started: now,
                            fetch: fetch.clone(),
                        },
                    );
                    fetch
                }
            }
        };
        fetch.await
    }
}

async fn fetch_all(client: Arc<GoogleClient>, url: String, field: &'static str) -> Listed {
    let mut listing = Listing::default();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page_url = match &token {
            None => url.clone(),
            Some(t) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}pageToken={}", encode(t))
            }
        };
        let doc = client.get_json(&page_url).await?;
        if let Some(list) = doc.get(field).and_then(Value::as_array) {
            listing.items.extend(list.iter().cloned());
        }
        if let Some(list) = doc.get("unreachable").and_then(Value::as_array) {
            listing
                .unreachable
                .extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
        token = doc
            .get("nextPageToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(Arc::new(listing));
        }
    }
    Err(GoogleError::Garbage(format!(
        "the list did not end after {MAX_PAGES} pages"
    )))
}

/// Percent-encodes a page token for a query string.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The item whose `name` is `full` or ends with `/{short}`.
pub fn find<'a>(items: &'a [Value], short: &str) -> Option<&'a Value> {
    let suffix = format!("/{short}");
    items.iter().find(|i| {
        i.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n == short || n.ends_with(&suffix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_by_short_or_full_name() {
        let items = vec![
            json!({"name": "projects/p/locations/l/services/api"}),
            json!({"name": "db"}),
        ];
        assert!(find(&items, "api").is_some());
        assert!(find(&items, "db").is_some());
        assert!(find(&items, "pi").is_none());
    }

    #[test]
    fn page_tokens_are_escaped() {
        assert_eq!(encode("a b/c=="), "a%20b%2Fc%3D%3D");
    }

    #[test]
    fn an_unreachable_region_is_told_apart_from_an_absent_resource() {
        let listing = Listing {
            items: vec![json!({"name": "projects/p/locations/us-central1/instances/b"})],
            unreachable: vec!["projects/p/locations/europe-west1".to_string()],
        };
        assert!(find(&listing, "locations/us-central1/instances/b").is_some());
        assert!(listing.unreachable_region("europe-west1"));
        assert!(!listing.unreachable_region("us-central1"));
        assert!(!listing.unreachable_region("west1"));
    }
}
