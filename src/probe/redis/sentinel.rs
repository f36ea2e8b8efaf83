//! A Redis Sentinel, judged by what it knows of its masters: `SENTINEL MASTERS` (address,
//! flags, replicas, other sentinels, quorum), `SENTINEL REPLICAS` (is any replica in sync, so
//! that a failover has somewhere to go) and `SENTINEL CKQUORUM` (can a failover be authorised
//! right now).
//!
//! Status rules, per master (the worst master wins when the estate names none): flagged
//! `o_down` → down; flagged `s_down` or `disconnected`, a failover in progress, no replica to
//! fail over to (none at all, or none whose link to the master is `ok`), or a quorum check
//! that fails → degraded. A master name the sentinel does not monitor → unknown (opsdeck
//! cannot ask about it there). `masters_serving` counts the masters clients can use right
//! now (neither down nor being failed over), whatever their replicas.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use serde_json::{Value, json};

use super::Connect;
use crate::model::{Observation, Status};

/// One master as `SENTINEL MASTERS` describes it.
pub type MasterFields = HashMap<String, String>;

pub(super) async fn look(
    connect: &Connect,
    conn: &mut MultiplexedConnection,
    wanted: Option<&str>,
    ping: Duration,
) -> Observation {
    let masters: Vec<MasterFields> = match redis::cmd("SENTINEL")
        .arg("MASTERS")
        .query_async(conn)
        .await
    {
        Ok(m) => m,
        Err(e) => return connect.failure(&e),
    };
    let mut quorum = BTreeMap::new();
    let mut replicas = BTreeMap::new();
    for m in &masters {
        let Some(name) = m.get("name") else { continue };
        if wanted.is_some_and(|w| w != name) {
            continue;
        }
        let answer = redis::cmd("SENTINEL")
            .arg("CKQUORUM")
            .arg(name)
            .query_async::<String>(conn)
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or_default().to_string();
                let detail = e.detail().unwrap_or_default();
                format!("{code} {detail}").trim().to_string()
            });
        quorum.insert(name.clone(), answer);
        // A sentinel that cannot list the replicas leaves them unjudged, not the master down.
        if let Ok(list) = redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg(name)
            .query_async::<Vec<MasterFields>>(conn)
            .await
        {
            replicas.insert(name.clone(), list);
        }
    }
    let mut obs = observe(&masters, wanted, &quorum, &replicas);
    let ping_ms = (ping.as_secs_f64() * 10_000.0).round() / 10.0;
    obs.metrics.insert("ping_ms".to_string(), ping_ms.into());
    obs.metrics
        .insert("sentinel".to_string(), connect.shown().into());
    obs
}

/// The status of a Sentinel's view: its masters, the one the estate names (if any), the
/// answers of `SENTINEL CKQUORUM` per master name (`Err` holds the server's words) and the
/// replicas `SENTINEL REPLICAS` lists per master name (a master missing there is not judged on
/// its replicas' links).
pub fn observe(
    masters: &[MasterFields],
    wanted: Option<&str>,
    quorum: &BTreeMap<String, Result<String, String>>,
    replicas: &BTreeMap<String, Vec<MasterFields>>,
) -> Observation {
    let chosen: Vec<&MasterFields> = masters
        .iter()
        .filter(|m| wanted.is_none_or(|w| m.get("name").map(String::as_str) == Some(w)))
        .collect();
    if chosen.is_empty() {
        let known: Vec<&str> = masters
            .iter()
            .filter_map(|m| m.get("name").map(String::as_str))
            .collect();
        let listing = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        let why = match wanted {
            Some(w) => {
                format!("the sentinel monitors no master named '{w}' (it monitors: {listing})")
            }
            None => "the sentinel monitors no master".to_string(),
        };
        return Observation::unknown(why);
    }
    let mut worst = Status::Up;
    let mut reasons = Vec::new();
    let mut lines = Vec::new();
    let mut per_master = serde_json::Map::new();
    for m in &chosen {
        let (status, why, line, figures) = judge(m, quorum, replicas);
        if status.rank() < worst.rank() {
            worst = status;
        }
        reasons.extend(why);
        lines.push(line);
        per_master.insert(m.get("name").cloned().unwrap_or_default(), figures);
    }
    let mut obs = Observation::new(worst, format!("sentinel · {}", lines.join(" · ")));
    if !reasons.is_empty() {
        obs.error = Some(format!("{}.", reasons.join("; ")));
    }

    obs.metrics
        .insert("masters_monitored".to_string(), masters.len().into());
    let serving = per_master
        .values()
        .filter(|m| m["serving"] == Value::Bool(true))
        .count();
    obs.metrics
        .insert("masters_serving".to_string(), serving.into());
    obs.metrics
        .insert("masters".to_string(), Value::Object(per_master));
    obs
}

/// One master: its status, the reasons, its summary fragment and its figures.
fn judge(
    m: &MasterFields,
    quorum: &BTreeMap<String, Result<String, String>>,
    listed: &BTreeMap<String, Vec<MasterFields>>,
) -> (Status, Vec<String>, String, Value) {
    let name = m.get("name").map_or("?", String::as_str);
    let address = format!(
        "{}:{}",
        m.get("ip").map_or("?", String::as_str),
        m.get("port").map_or("?", String::as_str)
    );
    let flags = m.get("flags").map_or("", String::as_str);
    let has = |f: &str| flags.split(',').any(|x| x == f);
    let num = |k: &str| m.get(k).and_then(|v| v.parse::<u64>().ok());
    let replicas = num("num-slaves").unwrap_or(0);
    let sentinels = num("num-other-sentinels").map(|n| n + 1);
    let quorum_needed = num("quorum");
    let failover = m
        .get("failover-state")
        .filter(|s| !s.is_empty() && s.as_str() != "none" && s.as_str() != "idle");

    let mut status = Status::Up;
    let mut why = Vec::new();
    if has("o_down") {
        status = Status::Down;
        why.push(format!(
            "master '{name}' at {address} is objectively down (flags {flags})"
        ));
    } else if has("s_down") {
        why.push(format!(
            "this sentinel cannot reach master '{name}' at {address} (flags {flags})"
        ));
    }
    if has("disconnected") && !has("o_down") {
        why.push(format!(
            "the sentinel is disconnected from master '{name}' at {address}"
        ));
    }
    if has("failover_in_progress") || failover.is_some() {
        why.push(format!("a failover of master '{name}' is in progress"));
    }
    // The master answers and Sentinel is not moving it: clients reach a healthy master, even
    // when there is nothing left to fail over to.
    let serving = !has("o_down")
        && !has("s_down")
        && !has("disconnected")
        && !has("failover_in_progress")
        && failover.is_none();
    let in_sync = listed.get(name).map(|list| {
        list.iter()
            .filter(|r| {
                let flags = r.get("flags").map_or("", String::as_str);
                r.get("master-link-status").map(String::as_str) == Some("ok")
                    && !flags
                        .split(',')
                        .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
            })
            .count()
    });
    if replicas == 0 {
        why.push(format!("master '{name}' has no replica to fail over to"));
    } else if in_sync == Some(0) {
        let links: Vec<String> = listed
            .get(name)
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "{}:{} link {}",
                    r.get("ip").map_or("?", String::as_str),
                    r.get("port").map_or("?", String::as_str),
                    r.get("master-link-status")
                        .map_or("unknown", String::as_str)
                )
            })
            .collect();
        why.push(format!(
            "no replica of master '{name}' is in sync to fail over to ({})",
            links.join(", ")
        ));
    }
    if let Some(Err(words)) = quorum.get(name) {
        why.push(format!(
            "the quorum check for master '{name}' fails: {words}"
        ));
    }
    if status == Status::Up && !why.is_empty() {
        status = Status::Degraded;
    }

    let noun = if replicas == 1 { "replica" } else { "replicas" };
    let mut line = format!("master '{name}' at {address} · {replicas} {noun}");
    if let Some(s) = sentinels {
        line.push_str(&format!(" · {s} sentinels"));
    }
    if let Some(q) = quorum_needed {
        line.push_str(&format!(" · quorum {q}"));
    }
    let figures = json!({
        "address": address,
        "flags": flags,
        "replicas": replicas,
        "sentinels": sentinels,
        "quorum": quorum_needed,
        "quorum_reachable": quorum.get(name).map(Result::is_ok),
        "replicas_in_sync": in_sync,
        "serving": serving,
    });
    (status, why, line, figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(pairs: &[(&str, &str)]) -> MasterFields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn healthy(name: &str) -> MasterFields {
        master(&[
            ("name", name),
            ("ip", "127.0.0.1"),
            ("port", "6380"),
            ("flags", "master"),
            ("num-slaves", "1"),
            ("num-other-sentinels", "2"),
            ("quorum", "2"),
            ("failover-state", "none"),
        ])
    }

    fn ok(name: &str) -> BTreeMap<String, Result<String, String>> {
        BTreeMap::from([(
            name.to_string(),
            Ok(
                "OK 3 usable Sentinels. Quorum and failover authorization can be reached"
                    .to_string(),
            ),
        )])
    }

    #[test]
    fn a_healthy_master_is_up_with_its_topology_in_the_summary() {
        let obs = observe(
            &[healthy("mymaster")],
            Some("mymaster"),
            &ok("mymaster"),
            &BTreeMap::new(),
        );
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        assert_eq!(
            obs.summary,
            "sentinel · master 'mymaster' at 127.0.0.1:6380 · 1 replica · 3 sentinels · quorum 2"
        );
        assert_eq!(obs.metrics["masters"]["mymaster"]["quorum_reachable"], true);
    }

    #[test]
    fn objectively_down_is_down_and_subjectively_down_is_degraded() {
        let mut m = healthy("mymaster");
        m.insert("flags".into(), "master,s_down,o_down".into());
        let obs = observe(&[m.clone()], None, &ok("mymaster"), &BTreeMap::new());
        assert_eq!(obs.status, Status::Down);
        assert!(obs.error.expect("error").contains("objectively down"));
        m.insert("flags".into(), "master,s_down".into());
        assert_eq!(
            observe(&[m], None, &ok("mymaster"), &BTreeMap::new()).status,
            Status::Degraded
        );
    }

    #[test]
    fn no_replica_or_no_quorum_degrades() {
        let mut m = healthy("mymaster");
        m.insert("num-slaves".into(), "0".into());
        let obs = observe(&[m], None, &ok("mymaster"), &BTreeMap::new());
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("master 'mymaster' has no replica to fail over to.")
        );
        let noquorum = BTreeMap::from([(
            "mymaster".to_string(),
            Err("NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master".to_string()),
        )]);
        let obs = observe(&[healthy("mymaster")], None, &noquorum, &BTreeMap::new());
        assert_eq!(obs.status, Status::Degraded);
        assert!(obs.error.expect("error").contains("NOQUORUM"));
    }

    #[test]
    fn an_unmonitored_master_name_is_unknown_and_lists_the_known_ones() {
        let obs = observe(
            &[healthy("a"), healthy("b")],
            Some("c"),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        assert_eq!(obs.status, Status::Unknown);
        assert_eq!(
            obs.error.as_deref(),
            Some("the sentinel monitors no master named 'c' (it monitors: a, b)")
        );
    }

    #[test]
    fn without_a_name_the_worst_master_wins() {
        let mut bad = healthy("b");
        bad.insert("flags".into(), "master,o_down".into());
        let obs = observe(&[healthy("a"), bad], None, &ok("a"), &BTreeMap::new());
        assert_eq!(obs.status, Status::Down);
        assert_eq!(obs.metrics["masters_monitored"], 2);
    }

    #[test]
    fn a_replica_whose_link_is_down_leaves_nothing_to_fail_over_to() {
        let replica = |link: &str| {
            master(&[
                ("ip", "10.0.0.6"),
                ("port", "6379"),
                ("flags", "slave"),
                ("master-link-status", link),
            ])
        };
        let broken = BTreeMap::from([("mymaster".to_string(), vec![replica("err")])]);
        let obs = observe(&[healthy("mymaster")], None, &ok("mymaster"), &broken);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.metrics["masters_serving"], 1,
            "the master itself serves"
        );
        assert_eq!(
            obs.error.as_deref(),
            Some(
                "no replica of master 'mymaster' is in sync to fail over to (10.0.0.6:6379 link err)."
            )
        );
        let fine = BTreeMap::from([("mymaster".to_string(), vec![replica("ok")])]);
        let obs = observe(&[healthy("mymaster")], None, &ok("mymaster"), &fine);
        assert_eq!(obs.status, Status::Up);
        assert_eq!(obs.metrics["masters"]["mymaster"]["replicas_in_sync"], 1);
    }
}
