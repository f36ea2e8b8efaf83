//! Endpoints that refuse, hang, lie or demand credentials: each gets one clear sentence on
//! its own service, and the rest of the estate is still reported.

use std::sync::Arc;
use std::time::Duration;

use opsdeck::estate;
use opsdeck::model::Status;
use opsdeck::once;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback server that answers every connection with `reply` (or never, when `None`).
async fn server(reply: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                match reply {
                    Some(r) => {
                        let _ = sock.write_all(r.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(3600)).await,
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A port with nothing listening on it.
async fn refused() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}";
const GARBAGE: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n<html>hi!";
const QUOTA_BODY: &str = r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}"#;

fn quota_reply() -> &'static str {
    let reply = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{QUOTA_BODY}",
        QUOTA_BODY.len()
    );
    Box::leak(reply.into_boxed_str())
}

fn http(id: &str, url: &str) -> String {
    format!(
        "[[service]]\nid = \"{id}\"\nkind = \"http\"\nurl = \"{url}/healthz\"\nsev = 3\ntimeout = \"1s\"\n"
    )
}

#[tokio::test]
async fn each_bad_endpoint_gets_its_own_sentence_and_the_rest_is_reported() {
    let ok = server(Some(OK)).await;
    let hang = server(None).await;
    let gone = refused().await;
    let src = format!(
        "name = \"t\"\n{}{}{}[[service]]\nid = \"checked\"\nkind = \"http\"\nurl = \"{ok}/healthz\"\nup_when = 'status == \"degraded\"'\nsev = 3\n",
        http("fine", &ok),
        http("hung", &hang),
        http("refused", &gone),
    );
    let (e, _) = estate::from_str_with_env(&src, "t.toml", &|_| None).expect("valid");
    let result = once::poll(Arc::new(e), Duration::from_secs(10)).await;
    assert!(!result.timed_out, "one hung endpoint must not hold the run");
    let s = result.model.snapshot(chrono::Utc::now());
    let get = |id: &str| s.service(id).expect(id);
    assert_eq!(get("fine").status, Status::Up);
    assert_eq!(get("hung").status, Status::Down);
    assert_eq!(get("hung").error.as_deref(), Some("no answer within 1s"));
    assert_eq!(get("refused").status, Status::Down);
    assert_eq!(get("refused").error.as_deref(), Some("connection refused"));
    assert_eq!(get("checked").status, Status::Down);
    assert_eq!(
        get("checked").error.as_deref(),
        Some("up_when `status == \"degraded\"` is false: status is \"ok\"")
    );
}

fn google(endpoint: &str, auth: &str) -> String {
    format!(
        "name = \"t\"\n[gcp]\nproject = \"p\"\nendpoint = \"{endpoint}\"\nauth = \"{auth}\"\n\
         [[region]]\nid = \"eu\"\ngcp_region = \"europe-west1\"\n\
         [[service]]\nid = \"sql\"\nkind = \"cloud_sql\"\ninstance = \"db\"\nsev = 1\ntimeout = \"2s\"\n"
    )
}

#[tokio::test]
async fn a_lying_google_endpoint_is_unknown_not_up() {
    let garbage = server(Some(GARBAGE)).await;
    let (e, _) =
        estate::from_str_with_env(&google(&garbage, "none"), "t.toml", &|_| None).expect("valid");
    let s = once::poll(Arc::new(e), Duration::from_secs(10))
        .await
        .model
        .snapshot(chrono::Utc::now());
    let sql = s.service("sql").expect("sql");
    assert_eq!(sql.status, Status::Unknown);
    assert_eq!(
        sql.error.as_deref(),
        Some(
            "Cloud SQL Admin API gave an unreadable answer: HTTP 200 with a body that is not JSON (expected value at line 1 column 1)"
        )
    );
    assert_eq!(
        s.exit_code, 3,
        "a SEV1 service opsdeck cannot see is UNKNOWN"
    );
}

#[tokio::test]
async fn quota_exhaustion_is_stale_with_the_reason_not_down() {
    let quota = server(Some(quota_reply())).await;
    let (e, _) =
        estate::from_str_with_env(&google(&quota, "none"), "t.toml", &|_| None).expect("valid");
    let s = once::poll(Arc::new(e), Duration::from_secs(10))
        .await
        .model
        .snapshot(chrono::Utc::now());
    let sql = s.service("sql").expect("sql");
    assert_ne!(sql.status, Status::Down);
    assert!(sql.stale);
    assert_eq!(
        sql.error.as_deref(),
        Some(
            "Cloud SQL Admin API answered 429 RESOURCE_EXHAUSTED: Quota exceeded (quota exhausted; backing off)"
        )
    );
}

#[tokio::test]
async fn an_unreachable_metadata_server_is_one_sentence_per_google_service() {
    // Credentials from a metadata server that refuses: the Google service cannot be asked.
    let gone = refused().await;
    let ok = server(Some(OK)).await;
    let src = format!(
        "name = \"t\"\n[gcp]\nproject = \"p\"\nendpoint = \"{ok}\"\nmetadata_endpoint = \"{gone}\"\n\
         [[service]]\nid = \"sql\"\nkind = \"cloud_sql\"\ninstance = \"db\"\nsev = 2\ntimeout = \"3s\"\n{}",
        http("web", &ok)
    );
    let (e, _) = estate::from_str_with_env(&src, "t.toml", &|_| None).expect("valid");
    let s = once::poll(Arc::new(e), Duration::from_secs(10))
        .await
        .model
        .snapshot(chrono::Utc::now());
    let sql = s.service("sql").expect("sql");
    assert_ne!(sql.status, Status::Up);
    assert!(sql.error.is_some(), "the reason is given");
    assert!(!sql.error.as_deref().unwrap_or("").contains('\n'));
    assert_eq!(
        s.service("web").expect("web").status,
        Status::Up,
        "the rest still reported"
    );
}

#[tokio::test]
async fn the_whole_run_deadline_reports_what_it_gathered() {
    let hang = server(None).await;
    let ok = server(Some(OK)).await;
    let src = format!(
        "name = \"t\"\n{}[[service]]\nid = \"slow\"\nkind = \"http\"\nurl = \"{hang}/\"\nsev = 2\ntimeout = \"30s\"\n",
        http("fine", &ok)
    );
    let (e, _) = estate::from_str_with_env(&src, "t.toml", &|_| None).expect("valid");
    let result = once::poll(Arc::new(e), Duration::from_millis(1500)).await;
    assert!(result.timed_out);
    let s = result.model.snapshot(chrono::Utc::now());
    assert_eq!(s.service("fine").expect("fine").status, Status::Up);
    let slow = s.service("slow").expect("slow");
    assert!(slow.stale);
    assert_eq!(
        slow.error.as_deref(),
        Some("no answer before the whole run's 1s 500ms deadline")
    );
}
