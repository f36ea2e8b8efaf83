//! The monitoring outputs of `--once`: the Nagios plugin line checked against the plugin-API
//! grammar, and the Prometheus text re-read by a real exposition parser and checked against
//! the JSON of the same estate.

use std::collections::HashMap;
use std::process::Command;

use serde_json::Value;

fn opsdeck(args: &[&str]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env_remove("OPSDECK_ESTATE")
        .output()
        .expect("run opsdeck");
    (
        String::from_utf8(out.stdout).expect("utf-8"),
        out.status.code().expect("exit code"),
    )
}

/// One perfdata item: `label=value[UOM];[warn];[crit];[min];[max]`, the label quoted with
/// `'` when it holds spaces or quotes (a `'` inside doubled).
fn perfdata_item_is_valid(item: &str) -> bool {
    let (label, rest) = if let Some(quoted) = item.strip_prefix('\'') {
        let mut end = None;
        let bytes: Vec<char> = quoted.chars().collect();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == '\'' {
                if bytes.get(i + 1) == Some(&'\'') {
                    i += 2;
                    continue;
                }
                end = Some(i);
                break;
            }
            i += 1;
        }
        let Some(end) = end else { return false };
        let label: String = bytes[..end].iter().collect();
        let rest: String = bytes[end + 1..].iter().collect();
        (label, rest)
    } else {
        match item.split_once('=') {
            Some((l, r)) => (l.to_string(), format!("={r}")),
            None => return false,
        }
    };
    if label.is_empty() || label.contains('=') {
        return false;
    }
    let Some(rest) = rest.strip_prefix('=') else {
        return false;
    };
    let fields: Vec<&str> = rest.split(';').collect();
    if fields.is_empty() || fields.len() > 5 {
        return false;
    }
    let value = fields[0];
    let number_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(value.len());
    let (num, uom) = value.split_at(number_end);
    let uom_ok = matches!(
        uom,
        "" | "s" | "ms" | "us" | "%" | "B" | "KB" | "MB" | "TB" | "c"
    );
    num.parse::<f64>().is_ok()
        && uom_ok
        && fields[1..].iter().all(|f| {
            f.is_empty()
                || f.trim_start_matches('~')
                    .trim_start_matches('@')
                    .split(':')
                    .all(|p| p.is_empty() || p.parse::<f64>().is_ok())
        })
}

#[test]
fn nagios_output_follows_the_plugin_api() {
    let (out, code) = opsdeck(&[
        "--demo",
        "--scenario",
        "cloudsql-down",
        "--once",
        "--format",
        "nagios",
    ]);
    assert_eq!(code, 2);
    let mut lines = out.lines();
    let first = lines.next().expect("status line");
    let (text, perf) = first.split_once(" | ").expect("perfdata after ' | '");
    assert!(
        text.starts_with("OPSDECK CRITICAL - tappass-demo"),
        "{text}"
    );
    assert!(!text.contains('|'));
    for item in perf.split(' ') {
        assert!(perfdata_item_is_valid(item), "bad perfdata item {item:?}");
    }
    assert!(perf.split(' ').any(|i| i.starts_with("down=2;")), "{perf}");
    let long: Vec<&str> = lines.collect();
    assert!(
        long.iter().any(|l| l.starts_with("SEV1 sql down")),
        "{long:?}"
    );
    assert!(long.iter().all(|l| !l.contains('|')));

    let (ok, code) = opsdeck(&["--demo", "--once", "--format", "nagios"]);
    assert_eq!(code, 0);
    assert!(
        ok.starts_with("OPSDECK OK - tappass-demo: all 19 services up | "),
        "{ok}"
    );
}

#[test]
fn queue_perfdata_labels_are_quoted_and_valid() {
    let estate = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/estates/lumieos.toml");
    let (out, _) = opsdeck(&["--demo", "--estate", estate, "--once", "--format", "nagios"]);
    let perf = out
        .lines()
        .next()
        .and_then(|l| l.split_once(" | "))
        .expect("perfdata")
        .1;
    let items: Vec<&str> = perf.split(' ').collect();
    assert!(
        items
            .iter()
            .any(|i| i.starts_with("'tasks-default-us_depth'=")),
        "{perf}"
    );
    for item in items {
        assert!(perfdata_item_is_valid(item), "bad perfdata item {item:?}");
    }
}

/// Both renderings of one snapshot of a sample estate polled on the simulator.
async fn both_renderings(sample: &str) -> (String, String) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let path = format!(
        "{}/fixtures/estates/{sample}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("sample");
    let (estate, _) = opsdeck::estate::from_str_with_env(&text, &path, &|_| None).expect("valid");
    let listen = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
    let sim = opsdeck::sim::start(&estate, None, listen)
        .await
        .expect("simulator");
    let redirected = std::sync::Arc::new(opsdeck::sim::redirect(&estate, &sim));
    let result = opsdeck::once::poll(redirected, std::time::Duration::from_secs(20)).await;
    let snap = result.model.snapshot(chrono::Utc::now());
    sim.shutdown().await;
    (
        opsdeck::output::to_prometheus(&snap, false),
        opsdeck::output::to_json(&snap, false, &[]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_text_parses_and_agrees_with_the_json() {
    let (text, json) = both_renderings("lumieos").await;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("exposition text parses");
    let doc: Value = serde_json::from_str(&json).expect("json");

    let gauge = |metric: &str, service: &str| -> Option<f64> {
        scrape.samples.iter().find_map(|s| {
            (s.metric == metric && s.labels.get("service") == Some(service)).then_some({
                match s.value {
                    prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                    _ => f64::NAN,
                }
            })
        })
    };
    let services = doc["services"].as_array().expect("services");
    assert!(!services.is_empty());
    for s in services {
        let id = s["id"].as_str().expect("id");
        let up = if s["status"] == "up" { 1.0 } else { 0.0 };
        assert_eq!(gauge("opsdeck_service_up", id), Some(up), "{id}");
        assert_eq!(
            gauge("opsdeck_service_declared_sev", id),
            s["declared_sev"].as_f64(),
            "{id}"
        );
        assert_eq!(gauge("opsdeck_service_sev", id), s["sev"].as_f64(), "{id}");
        let labels = scrape
            .samples
            .iter()
            .find(|x| x.metric == "opsdeck_service_up" && x.labels.get("service") == Some(id))
            .map(|x| x.labels.clone())
            .expect("sample");
        assert_eq!(labels.get("estate"), doc["estate"].as_str());
        assert_eq!(labels.get("kind"), s["kind"].as_str());
    }
    let queues: HashMap<&str, &Value> = doc["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| (q["service"].as_str().expect("service"), q))
        .collect();
    assert!(!queues.is_empty());
    for (id, q) in queues {
        assert_eq!(
            gauge("opsdeck_queue_depth", id),
            q["depth"].as_f64(),
            "{id}"
        );
    }
}
