//! The SENTINEL command of a simulated redis-sentinel: MASTERS, MASTER, GET-MASTER-ADDR-BY-NAME,
//! REPLICAS / SLAVES, SENTINELS, CKQUORUM, FAILOVER, MYID and RESET, with the field lists a real
//! Sentinel replies with. Pure.

use std::time::Duration;

use crate::sim::redis_cmd::Conn;
use crate::sim::redis_model::RedisWorld;
use crate::sim::resp::Frame;

fn pairs(fields: Vec<(&str, String)>) -> Frame {
    Frame::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Frame::bulk(k), Frame::bulk(v)))
            .collect(),
    )
}

/// The field list of `SENTINEL MASTER name`.
fn master_fields(world: &RedisWorld, group: usize, at: Duration) -> Frame {
    let Some(g) = world.groups.get(group) else {
        return Frame::Null;
    };
    let Some(m) = world.nodes.get(g.master) else {
        return Frame::Null;
    };
    let down_ms = g
        .down_since
        .map_or(0, |d| at.saturating_sub(d).as_millis() as u64);
    let flags = if m.up {
        "master"
    } else {
        "master,s_down,o_down"
    };
    pairs(vec![
        ("name", g.master_name.clone().unwrap_or_default()),
        ("ip", "127.0.0.1".into()),
        ("port", m.port.to_string()),
        ("runid", m.run_id.clone()),
        ("flags", flags.into()),
        ("link-pending-commands", "0".into()),
        ("link-refcount", "1".into()),
        (
            "last-ping-sent",
            if m.up {
                "0".into()
            } else {
                down_ms.to_string()
            },
        ),
        (
            "last-ok-ping-reply",
            if m.up {
                "412".into()
            } else {
                down_ms.to_string()
            },
        ),
        (
            "last-ping-reply",
            if m.up {
                "412".into()
            } else {
                down_ms.to_string()
            },
        ),
        ("down-after-milliseconds", "5000".into()),
        ("info-refresh", "6532".into()),
        ("role-reported", "master".into()),
        (
            "role-reported-time",
            (at.as_millis() as u64 + 3_600_000).to_string(),
        ),
        ("config-epoch", g.epoch.to_string()),
        ("num-slaves", g.replicas().count().to_string()),
        ("num-other-sentinels", "0".into()),
        ("quorum", "1".into()),
        ("failover-timeout", "180000".into()),
        ("parallel-syncs", "1".into()),
    ])
}

fn replica_fields(world: &RedisWorld, node: usize) -> Frame {
    let Some(n) = world.nodes.get(node) else {
        return Frame::Null;
    };
    let Some(g) = world.groups.get(n.group) else {
        return Frame::Null;
    };
    let master_port = world.nodes.get(g.master).map_or(0, |m| m.port);
    let ok = world.link_ok(node);
    let flags = if n.up { "slave" } else { "slave,s_down" };
    pairs(vec![
        ("name", format!("127.0.0.1:{}", n.port)),
        ("ip", "127.0.0.1".into()),
        ("port", n.port.to_string()),
        ("runid", n.run_id.clone()),
        ("flags", flags.into()),
        ("link-pending-commands", "0".into()),
        ("link-refcount", "1".into()),
        ("last-ping-sent", "0".into()),
        ("last-ok-ping-reply", "380".into()),
        ("last-ping-reply", "380".into()),
        ("down-after-milliseconds", "5000".into()),
        ("info-refresh", "4120".into()),
        ("role-reported", "slave".into()),
        ("role-reported-time", "3600000".into()),
        (
            "master-link-down-time",
            if ok { "0".into() } else { "5000".into() },
        ),
        (
            "master-link-status",
            if ok { "ok".into() } else { "err".into() },
        ),
        ("master-host", "127.0.0.1".into()),
        ("master-port", master_port.to_string()),
        ("slave-priority", "100".into()),
        (
            "slave-repl-offset",
            g.repl_offset(Duration::ZERO).to_string(),
        ),
        ("replica-announced", "1".into()),
    ])
}

/// `SENTINEL <sub> …` on a Sentinel node.
pub(crate) fn command(
    world: &mut RedisWorld,
    conn: &Conn,
    args: &[Vec<u8>],
    at: Duration,
) -> Frame {
    let text = |i: usize| args.get(i).map(|a| String::from_utf8_lossy(a).into_owned());
    let Some(sub) = text(0).map(|s| s.to_ascii_lowercase()) else {
        return Frame::error("ERR wrong number of arguments for 'sentinel' command");
    };
    let own = world.nodes.get(conn.node).map(|n| n.group);
    let group = text(1)
        .and_then(|name| world.group_named(&name))
        .filter(|g| own == Some(*g));
    match sub.as_str() {
        "masters" => Frame::Array(
            own.map(|g| master_fields(world, g, at))
                .into_iter()
                .collect(),
        ),
        "master" => match group {
            Some(g) => master_fields(world, g, at),
            None => Frame::error("ERR No such master with that name"),
        },
        "get-master-addr-by-name" => match group {
            Some(g) => {
                let port = world
                    .groups
                    .get(g)
                    .and_then(|g| world.nodes.get(g.master))
                    .map_or(0, |m| m.port);
                Frame::Array(vec![
                    Frame::bulk("127.0.0.1"),
                    Frame::bulk(port.to_string()),
                ])
            }
            None => Frame::NullArray,
        },
        "replicas" | "slaves" => match group {
            Some(g) => {
                let replicas: Vec<usize> = world
                    .groups
                    .get(g)
                    .map(|g| g.replicas().collect())
                    .unwrap_or_default();
                Frame::Array(
                    replicas
                        .into_iter()
                        .map(|r| replica_fields(world, r))
                        .collect(),
                )
            }
            None => Frame::error("ERR No such master with that name"),
        },
        "sentinels" => match group {
            Some(_) => Frame::Array(Vec::new()),
            None => Frame::error("ERR No such master with that name"),
        },
        "ckquorum" => match group {
            Some(_) => Frame::Simple(
                "OK 1 usable Sentinels. Quorum and failover authorization can be reached".into(),
            ),
            None => Frame::error("ERR No such master with that name"),
        },
        "failover" => match group {
            Some(g) => match world.failover(g) {
                Ok(()) => Frame::ok(),
                Err(e) => Frame::error(e),
            },
            None => Frame::error("ERR No such master with that name"),
        },
        "myid" => Frame::bulk(
            world
                .nodes
                .get(conn.node)
                .map(|n| n.run_id.clone())
                .unwrap_or_default(),
        ),
        "reset" => Frame::Integer(i64::from(own.is_some())),
        "is-master-down-by-addr" | "config" | "set" | "monitor" | "remove" => Frame::error(
            format!("ERR SENTINEL {sub} is not supported by the simulated Sentinel"),
        ),
        _ => Frame::error(format!("ERR Unknown sentinel subcommand '{sub}'")),
    }
}
