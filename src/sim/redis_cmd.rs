//! The commands a simulated Redis answers, as a real server words its replies: connection
//! commands (PING, AUTH, HELLO, CLIENT, SELECT), INFO and ROLE, the list commands queue probes
//! use (LLEN, LINDEX, LRANGE, pushes and pops), and on a Sentinel the SENTINEL commands
//! (masters, get-master-addr-by-name, replicas, failover). Pure.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::sim::cluster::clock::uid;
use crate::sim::redis_info::{self, VERSION};
use crate::sim::redis_model::{RedisWorld, Role};
use crate::sim::resp::Frame;

/// One client connection's state.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub node: usize,
    pub id: u64,
    pub authed: bool,
    pub resp3: bool,
    pub db: u32,
    pub name: Option<String>,
}

/// The clock as a command sees it.
pub(crate) struct Now {
    pub at: Duration,
    pub wall: DateTime<Utc>,
    pub uptime: u64,
}

fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

fn arity(name: &str) -> Frame {
    Frame::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

fn unknown(args: &[Vec<u8>]) -> Frame {
    let name = text(&args[0]);
    let mut rest = String::new();
    for a in args[1..].iter().take(8) {
        rest.push('\'');
        rest.push_str(&text(a));
        rest.push_str("' ");
    }
    Frame::error(format!(
        "ERR unknown command '{name}', with args beginning with: {rest}"
    ))
}

/// Runs one command; the flag says to close the connection after replying.
pub(crate) fn execute(
    world: &mut RedisWorld,
    conn: &mut Conn,
    args: &[Vec<u8>],
    now: &Now,
) -> (Frame, bool) {
    let Some(first) = args.first() else {
        return (Frame::error("ERR empty command"), false);
    };
    let cmd = text(first).to_ascii_lowercase();
    if let Some(n) = world.nodes.get_mut(conn.node) {
        n.commands += 1;
    }
    let Some(node) = world.nodes.get(conn.node).cloned() else {
        return (Frame::error("ERR server gone"), true);
    };
    let password = world
        .groups
        .get(node.group)
        .and_then(|g| g.password.clone());
    let open = matches!(cmd.as_str(), "auth" | "hello" | "quit" | "reset");
    if password.is_some() && !conn.authed && !open {
        return (Frame::error("NOAUTH Authentication required."), false);
    }
    let sentinel = node.role == Role::Sentinel;
    let reply = match cmd.as_str() {
        "quit" => return (Frame::ok(), true),
        "ping" => match args.len() {
            1 => Frame::Simple("PONG".into()),
            2 => Frame::Bulk(args[1].clone()),
            _ => arity("ping"),
        },
        "echo" => match args {
            [_, msg] => Frame::Bulk(msg.clone()),
            _ => arity("echo"),
        },
        "auth" => auth(conn, password.as_deref(), &args[1..]),
        "hello" => hello(world, conn, password.as_deref(), &args[1..]),
        "client" => client(conn, &args[1..]),
        "reset" => {
            conn.resp3 = false;
            conn.db = 0;
            conn.name = None;
            conn.authed = password.is_none();
            Frame::Simple("RESET".into())
        }
        "info" => {
            let asked: Vec<String> = args[1..].iter().map(|a| text(a)).collect();
            let ctx = redis_info::Ctx {
                world,
                node: conn.node,
                at: now.at,
                wall: now.wall,
                uptime: now.uptime,
            };
            Frame::Verbatim(redis_info::info(&ctx, &asked))
        }
        "role" => role(world, conn.node, now.at),
        "command" => Frame::Array(Vec::new()),
        "time" => Frame::Array(vec![
            Frame::bulk(now.wall.timestamp().to_string()),
            Frame::bulk(now.wall.timestamp_subsec_micros().to_string()),
        ]),
        "sentinel" if sentinel => {
            crate::sim::redis_sentinel::command(world, conn, &args[1..], now.at)
        }
        _ if sentinel => unknown(args),
        "select" => match args.get(1).map(|a| text(a).parse::<u32>()) {
            Some(Ok(db)) if args.len() == 2 && db < 16 => {
                conn.db = db;
                Frame::ok()
            }
            Some(Ok(_)) => Frame::error("ERR DB index is out of range"),
            Some(Err(_)) => Frame::error("ERR value is not an integer or out of range"),
            None => arity("select"),
        },
        "dbsize" => {
            let keys = world.groups.get(node.group).map_or(0, |g| {
                let lists = g
                    .lists
                    .iter()
                    .filter(|((db, _), l)| *db == conn.db && l.depth(now.at) > 0)
                    .count() as u64;
                lists + if conn.db == 0 { g.base_keys() } else { 0 }
            });
            Frame::Integer(keys as i64)
        }
        "config" => config(world, node.group, &args[1..]),
        "readonly" | "readwrite" => Frame::ok(),
        _ => lists(world, conn, node.role, &cmd, args, now.at),
    };
    (reply, false)
}

fn auth(conn: &mut Conn, password: Option<&str>, args: &[Vec<u8>]) -> Frame {
    let (user, pass) = match args {
        [pass] => ("default".to_string(), text(pass)),
        [user, pass] => (text(user), text(pass)),
        _ => return arity("auth"),
    };
    match password {
        None if args.len() == 1 => Frame::error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ),
        None if user == "default" => {
            conn.authed = true;
            Frame::ok()
        }
        Some(p) if user == "default" && p == pass => {
            conn.authed = true;
            Frame::ok()
        }
        _ => Frame::error("WRONGPASS invalid username-password pair or user is disabled."),
    }
}

fn hello(world: &RedisWorld, conn: &mut Conn, password: Option<&str>, args: &[Vec<u8>]) -> Frame {
    let mut proto = if conn.resp3 { 3 } else { 2 };
    let mut rest = args;
    if let Some(v) = rest.first() {
        match text(v).parse::<u32>() {
            Ok(p @ (2 | 3)) => proto = p,
            Ok(_) => return Frame::error("NOPROTO unsupported protocol version"),
            Err(_) => {
                return Frame::error("ERR Protocol version is not an integer or out of range");
            }
        }
        rest = &rest[1..];
    }
    let mut name = None;
    while let Some(opt) = rest.first() {
        match text(opt).to_ascii_lowercase().as_str() {
            "auth" if rest.len() >= 3 => {
                let reply = auth(conn, password, &rest[1..3]);
                if matches!(reply, Frame::Error(_)) {
                    return reply;
                }
                rest = &rest[3..];
            }
            "setname" if rest.len() >= 2 => {
                name = Some(text(&rest[1]));
                rest = &rest[2..];
            }
            other => return Frame::error(format!("ERR Syntax error in HELLO option '{other}'")),
        }
    }
    if password.is_some() && !conn.authed {
        return Frame::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if name.is_some() {
        conn.name = name;
    }
    conn.resp3 = proto == 3;
    let role = world.nodes.get(conn.node).map_or(Role::Master, |n| n.role);
    let (mode, role) = match role {
        Role::Sentinel => ("sentinel", "master"),
        Role::Master => ("standalone", "master"),
        Role::Replica => ("standalone", "replica"),
    };
    Frame::Map(vec![
        (Frame::bulk("server"), Frame::bulk("redis")),
        (Frame::bulk("version"), Frame::bulk(VERSION)),
        (Frame::bulk("proto"), Frame::Integer(i64::from(proto))),
        (Frame::bulk("id"), Frame::Integer(conn.id as i64)),
        (Frame::bulk("mode"), Frame::bulk(mode)),
        (Frame::bulk("role"), Frame::bulk(role)),
        (Frame::bulk("modules"), Frame::Array(Vec::new())),
    ])
}

fn client(conn: &mut Conn, args: &[Vec<u8>]) -> Frame {
    let Some(sub) = args.first().map(|a| text(a).to_ascii_lowercase()) else {
        return arity("client");
    };
    match (sub.as_str(), args.len()) {
        ("setname", 2) => {
            let name = text(&args[1]);
            if name.contains(' ') {
                return Frame::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            conn.name = (!name.is_empty()).then_some(name);
            Frame::ok()
        }
        ("getname", 1) => conn.name.clone().map_or(Frame::Null, Frame::bulk),
        ("id", 1) => Frame::Integer(conn.id as i64),
        ("setinfo", 3) => {
            let attr = text(&args[1]).to_ascii_lowercase();
            if attr == "lib-name" || attr == "lib-ver" {
                Frame::ok()
            } else {
                Frame::error(format!("ERR Unrecognized option '{}'", text(&args[1])))
            }
        }
        ("info" | "list", _) => Frame::Verbatim(format!(
            "id={} addr=127.0.0.1:0 laddr=127.0.0.1:0 fd=8 name={} age=0 idle=0 flags=N db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r cmd=client|{sub} user=default redir=-1 resp={}\n",
            conn.id,
            conn.name.clone().unwrap_or_default(),
            conn.db,
            if conn.resp3 { 3 } else { 2 }
        )),
        ("no-evict" | "no-touch" | "reply", 2) => Frame::ok(),
        _ => Frame::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP."
        )),
    }
}

fn role(world: &RedisWorld, node: usize, at: Duration) -> Frame {
    let Some(n) = world.nodes.get(node) else {
        return Frame::Null;
    };
    let Some(g) = world.groups.get(n.group) else {
        return Frame::Null;
    };
    let offset = g.repl_offset(at) as i64;
    match n.role {
        Role::Sentinel => Frame::Array(vec![
            Frame::bulk("sentinel"),
            Frame::Array(vec![Frame::bulk(g.master_name.clone().unwrap_or_default())]),
        ]),
        Role::Master => Frame::Array(vec![
            Frame::bulk("master"),
            Frame::Integer(offset),
            Frame::Array(
                g.replicas()
                    .filter(|r| world.node_up(*r) && world.link_ok(*r))
                    .map(|r| {
                        let port = world.nodes.get(r).map_or(0, |x| x.port);
                        Frame::Array(vec![
                            Frame::bulk("127.0.0.1"),
                            Frame::bulk(port.to_string()),
                            Frame::bulk(offset.to_string()),
                        ])
                    })
                    .collect(),
            ),
        ]),
        Role::Replica => {
            let port = world.nodes.get(g.master).map_or(0, |m| m.port);
            let state = if world.link_ok(node) {
                "connected"
            } else {
                "connect"
            };
            Frame::Array(vec![
                Frame::bulk("slave"),
                Frame::bulk("127.0.0.1"),
                Frame::Integer(i64::from(port)),
                Frame::bulk(state),
                Frame::Integer(if world.link_ok(node) { offset } else { -1 }),
            ])
        }
    }
}

fn config(world: &RedisWorld, group: usize, args: &[Vec<u8>]) -> Frame {
    let Some(g) = world.groups.get(group) else {
        return Frame::Array(Vec::new());
    };
    if args.len() < 2 || !text(&args[0]).eq_ignore_ascii_case("get") {
        return Frame::error("ERR CONFIG subcommand not supported by this server");
    }
    let settings = [
        ("maxmemory", g.maxmemory.to_string()),
        ("maxmemory-policy", g.policy.clone()),
        ("maxclients", "10000".to_string()),
        ("appendonly", "no".to_string()),
        ("save", "3600 1 300 100 60 10000".to_string()),
        ("databases", "16".to_string()),
        ("timeout", "0".to_string()),
    ];
    let mut pairs = Vec::new();
    for pattern in &args[1..] {
        let p = text(pattern).to_ascii_lowercase();
        for (k, v) in &settings {
            if (p == "*" || p == *k || (p.ends_with('*') && k.starts_with(p.trim_end_matches('*'))))
                && !pairs
                    .iter()
                    .any(|(pk, _): &(Frame, Frame)| *pk == Frame::bulk(*k))
            {
                pairs.push((Frame::bulk(*k), Frame::bulk(v.clone())));
            }
        }
    }
    Frame::Map(pairs)
}

/// A message as the queue's producers write it: kombu's envelope for Celery, Laravel's job
/// payload for `queues:*` keys.
fn message(key: &str, index: u64) -> Vec<u8> {
    let id = uid(&format!("{key}/{index}"));
    if let Some(queue) = key.strip_prefix("queues:") {
        serde_json::json!({
            "uuid": id, "displayName": "App\\Jobs\\ProcessJob", "job": "Illuminate\\Queue\\CallQueuedHandler@call",
            "maxTries": null, "maxExceptions": null, "failOnTimeout": false, "backoff": null, "timeout": null, "retryUntil": null,
            "data": {"commandName": "App\\Jobs\\ProcessJob", "command": "O:19:\"App\\Jobs\\ProcessJob\":0:{}"},
            "id": id, "attempts": 0, "queue": queue,
        })
        .to_string()
        .into_bytes()
    } else {
        serde_json::json!({
            "body": "W1tdLCB7fSwgeyJjYWxsYmFja3MiOiBudWxsLCAiZXJyYmFja3MiOiBudWxsLCAiY2hhaW4iOiBudWxsLCAiY2hvcmQiOiBudWxsfV0=",
            "content-encoding": "utf-8", "content-type": "application/json",
            "headers": {"lang": "py", "task": "tasks.process", "id": id, "shadow": null, "eta": null, "expires": null,
                "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], "root_id": id, "parent_id": null,
                "argsrepr": "()", "kwargsrepr": "{}", "origin": "gen1@producer", "ignore_result": false},
            "properties": {"correlation_id": id, "reply_to": uid(&format!("{key}/reply")), "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": key}, "priority": 0, "body_encoding": "base64", "delivery_tag": uid(&format!("{key}/{index}/tag"))},
        })
        .to_string()
        .into_bytes()
    }
}

fn lists(
    world: &mut RedisWorld,
    conn: &Conn,
    role: Role,
    cmd: &str,
    args: &[Vec<u8>],
    at: Duration,
) -> Frame {
    let group = world.nodes.get(conn.node).map_or(0, |n| n.group);
    let write = matches!(cmd, "lpush" | "rpush" | "lpop" | "rpop" | "del" | "unlink");
    let known = matches!(
        cmd,
        "llen"
            | "lindex"
            | "lrange"
            | "type"
            | "exists"
            | "zcard"
            | "hlen"
            | "lpush"
            | "rpush"
            | "lpop"
            | "rpop"
            | "del"
            | "unlink"
    );
    if !known {
        return unknown(args);
    }
    if write && role == Role::Replica {
        return Frame::error("READONLY You can't write against a read only replica.");
    }
    let Some(key) = args.get(1).map(|k| text(k)) else {
        return arity(cmd);
    };
    let Some(g) = world.groups.get_mut(group) else {
        return Frame::Null;
    };
    let slot = (conn.db, key.clone());
    let depth = g.lists.get(&slot).map_or(0, |l| l.depth(at));
    let int = |i: usize| args.get(i).and_then(|a| text(a).parse::<i64>().ok());
    match cmd {
        "llen" if args.len() == 2 => Frame::Integer(depth as i64),
        // The simulator keeps lists only: a sorted set (Laravel's delayed and reserved jobs) or
        // a hash (Celery's unacked messages) is always empty.
        "zcard" | "hlen" if args.len() == 2 => {
            if depth > 0 {
                Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value")
            } else {
                Frame::Integer(0)
            }
        }
        "type" if args.len() == 2 => Frame::Simple(if depth > 0 { "list" } else { "none" }.into()),
        "exists" => Frame::Integer(
            args[1..]
                .iter()
                .filter(|k| {
                    g.lists
                        .get(&(conn.db, text(k)))
                        .is_some_and(|l| l.depth(at) > 0)
                })
                .count() as i64,
        ),
        "lindex" if args.len() == 3 => match int(2) {
            Some(i) => {
                let i = if i < 0 { depth as i64 + i } else { i };
                if (0..depth as i64).contains(&i) {
                    Frame::Bulk(message(&key, i as u64))
                } else {
                    Frame::Null
                }
            }
            None => Frame::error("ERR value is not an integer or out of range"),
        },
        "lrange" if args.len() == 4 => match (int(2), int(3)) {
            (Some(a), Some(b)) => {
                let len = depth as i64;
                let fix = |i: i64| if i < 0 { (len + i).max(0) } else { i };
                let (a, b) = (fix(a), fix(b).min(len - 1));
                Frame::Array(
                    (a..=b)
                        .take(1000)
                        .map(|i| Frame::Bulk(message(&key, i as u64)))
                        .collect(),
                )
            }
            _ => Frame::error("ERR value is not an integer or out of range"),
        },
        "lpush" | "rpush" if args.len() >= 3 => {
            let list = g
                .lists
                .entry(slot)
                .or_insert_with(|| crate::sim::cluster::backlog::Backlog::steady(0, 0.0));
            Frame::Integer(list.add(at, (args.len() - 2) as f64) as i64)
        }
        "lpop" | "rpop" if args.len() <= 3 => {
            let count = if args.len() == 3 {
                int(2).unwrap_or(1).max(0) as u64
            } else {
                1
            };
            if depth == 0 {
                return if args.len() == 3 {
                    Frame::NullArray
                } else {
                    Frame::Null
                };
            }
            let taken = count.min(depth);
            if let Some(list) = g.lists.get_mut(&slot) {
                list.add(at, -(taken as f64));
            }
            if args.len() == 3 {
                Frame::Array((0..taken).map(|i| Frame::Bulk(message(&key, i))).collect())
            } else {
                Frame::Bulk(message(&key, 0))
            }
        }
        "del" | "unlink" => {
            let mut removed = 0;
            for k in &args[1..] {
                if let Some(list) = g.lists.get_mut(&(conn.db, text(k))) {
                    if list.depth(at) > 0 {
                        removed += 1;
                    }
                    list.set_depth(at, 0.0);
                }
            }
            Frame::Integer(removed)
        }
        _ => arity(cmd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::redis_model::Role;

    fn world(password: Option<&str>) -> RedisWorld {
        let mut w = RedisWorld::default();
        let g = w.add_group(None, password.map(str::to_string));
        let m = w.add_node(g, Role::Master, None);
        w.add_node(g, Role::Replica, None);
        w.groups[g].master = m;
        w.set_queue(g, 0, "celery", "sim.backlog", 7.0, Duration::ZERO);
        w
    }

    fn run(w: &mut RedisWorld, conn: &mut Conn, line: &str) -> Frame {
        let args: Vec<Vec<u8>> = line.split(' ').map(|a| a.as_bytes().to_vec()).collect();
        let now = Now {
            at: Duration::from_secs(1),
            wall: chrono::Utc::now(),
            uptime: 100,
        };
        execute(w, conn, &args, &now).0
    }

    fn conn(node: usize, authed: bool) -> Conn {
        Conn {
            node,
            id: 7,
            authed,
            resp3: false,
            db: 0,
            name: None,
        }
    }

    #[test]
    fn auth_hello_and_client_answer_as_a_server_does() {
        let mut w = world(Some("s3cret"));
        let mut c = conn(0, false);
        assert_eq!(
            run(&mut w, &mut c, "LLEN celery"),
            Frame::error("NOAUTH Authentication required.")
        );
        assert!(
            matches!(run(&mut w, &mut c, "HELLO 3"), Frame::Error(e) if e.starts_with("NOAUTH HELLO"))
        );
        assert!(
            matches!(run(&mut w, &mut c, "AUTH wrong"), Frame::Error(e) if e.starts_with("WRONGPASS"))
        );
        assert_eq!(run(&mut w, &mut c, "AUTH s3cret"), Frame::ok());
        assert_eq!(run(&mut w, &mut c, "LLEN celery"), Frame::Integer(7));
        let Frame::Map(hello) = run(&mut w, &mut c, "HELLO 3 SETNAME probe") else {
            panic!("HELLO answers a map");
        };
        assert!(hello.contains(&(Frame::bulk("proto"), Frame::Integer(3))));
        assert!(c.resp3);
        assert_eq!(run(&mut w, &mut c, "CLIENT GETNAME"), Frame::bulk("probe"));
        assert_eq!(
            run(&mut w, &mut c, "CLIENT SETINFO LIB-NAME redis-rs"),
            Frame::ok()
        );
        assert_eq!(
            run(&mut w, &mut c, "SELECT 16"),
            Frame::error("ERR DB index is out of range")
        );
        assert!(
            matches!(run(&mut w, &mut c, "HELLO 4"), Frame::Error(e) if e.starts_with("NOPROTO"))
        );

        let mut open = world(None);
        let mut c = conn(0, true);
        assert!(
            matches!(run(&mut open, &mut c, "AUTH x"), Frame::Error(e) if e.contains("without any password configured"))
        );
        assert_eq!(run(&mut open, &mut c, "PING"), Frame::Simple("PONG".into()));
    }

    #[test]
    fn replicas_refuse_writes_and_report_their_master() {
        let mut w = world(None);
        let mut replica = conn(1, true);
        assert!(
            matches!(run(&mut w, &mut replica, "RPUSH celery x"), Frame::Error(e) if e.starts_with("READONLY"))
        );
        let Frame::Array(role) = run(&mut w, &mut replica, "ROLE") else {
            panic!("ROLE answers an array");
        };
        assert_eq!(role[0], Frame::bulk("slave"));
        assert_eq!(role[3], Frame::bulk("connected"));
        let mut master = conn(0, true);
        assert_eq!(
            run(&mut w, &mut master, "RPUSH celery a b"),
            Frame::Integer(9)
        );
        assert_eq!(run(&mut w, &mut master, "LLEN celery"), Frame::Integer(9));
        assert!(matches!(
            run(&mut w, &mut master, "LINDEX celery -1"),
            Frame::Bulk(_)
        ));
        assert_eq!(run(&mut w, &mut master, "DEL celery"), Frame::Integer(1));
        assert_eq!(run(&mut w, &mut master, "LLEN celery"), Frame::Integer(0));
        assert_eq!(run(&mut w, &mut master, "HLEN unacked"), Frame::Integer(0));
        assert!(
            matches!(run(&mut w, &mut master, "HLEN"), Frame::Error(e) if e.contains("wrong number"))
        );
    }
}
