//! The simulated Redis servers: replication groups (a master, a replica and a Sentinel when the
//! estate names a `sentinel_master`), their lists (Celery and Laravel queues), memory, clients
//! and evictions, and failover (asked of Sentinel, or automatic when the master is down long
//! enough). Also what a scenario may set on `redis` and `redis_queue` services. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::sim::cluster::backlog::{self, Backlog};
use crate::sim::cluster::clock::{run_id, seconds};

/// Replication bytes written per second on a healthy master.
const REPL_RATE: u64 = 48_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Master,
    Replica,
    Sentinel,
}

/// One redis-server or redis-sentinel process.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub group: usize,
    pub role: Role,
    pub up: bool,
    /// The loopback port it listens on (set once bound).
    pub port: u16,
    pub run_id: String,
    /// The estate's `host:port` this node stands for, if the estate names it.
    pub estate: Option<String>,
    /// For a replica: whether the link to its master is up (the scenario can cut it).
    pub link_up: bool,
    pub link_down_since: Option<Duration>,
    /// For a replica: seconds behind the master.
    pub lag: u64,
    /// Commands and connections served, for INFO stats.
    pub commands: u64,
    pub connections: u64,
    /// Connections open now.
    pub open: u64,
}

/// A master with its replicas and Sentinel, sharing one keyspace.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The Sentinel master name, when monitored.
    pub master_name: Option<String>,
    pub sentinel: Option<usize>,
    pub master: usize,
    pub nodes: Vec<usize>,
    pub lists: BTreeMap<(u32, String), Backlog>,
    pub password: Option<String>,
    pub used_memory: u64,
    pub maxmemory: u64,
    pub policy: String,
    pub evicted: f64,
    pub eviction_rate: f64,
    pub evicted_at: Duration,
    pub clients: u64,
    pub blocked: u64,
    pub failover_after: Duration,
    pub down_since: Option<Duration>,
    pub epoch: u64,
    pub failovers: u64,
}

impl Group {
    /// Keys that exist besides the queues (sessions, cache entries).
    pub fn base_keys(&self) -> u64 {
        1200 + self.used_memory / 400_000
    }

    pub fn evicted_keys(&self, at: Duration) -> u64 {
        (self.evicted + self.eviction_rate * at.saturating_sub(self.evicted_at).as_secs_f64())
            as u64
    }

    pub fn repl_offset(&self, at: Duration) -> u64 {
        1_000_000 + REPL_RATE * at.as_secs() + self.epoch * 10_000
    }

    /// The replicas (nodes that are neither the master nor the Sentinel).
    pub fn replicas(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .copied()
            .filter(move |n| *n != self.master && Some(*n) != self.sentinel)
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RedisWorld {
    pub nodes: Vec<Node>,
    pub groups: Vec<Group>,
}

/// The keys a scenario may set on a `redis` service (its group's master, replica, Sentinel).
pub(crate) const KEYS: &[&str] = &[
    "up",
    "replica.up",
    "master_link_status",
    "lag",
    "used_memory",
    "maxmemory",
    "maxmemory_policy",
    "connected_clients",
    "blocked_clients",
    "evicted_keys",
    "eviction_rate",
    "failover_after",
    "failover",
];

/// The keys a scenario may set on a `redis_queue` service.
pub(crate) const QUEUE_KEYS: &[&str] = backlog::KNOBS;

/// Bytes from a number or text like "1.5gb", "900mb".
pub(crate) fn bytes(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let text = value.as_str()?.trim().to_ascii_lowercase();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = text.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "b" => 1.0,
        "kb" | "k" => 1024.0,
        "mb" | "m" => 1024.0 * 1024.0,
        "gb" | "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

pub(crate) fn set_problem(key: &str, value: &Value, queue: bool) -> Option<String> {
    let shown = value.to_string();
    let keys = if queue { QUEUE_KEYS } else { KEYS };
    if !keys.contains(&key) {
        return Some(format!(
            "set key '{key}' means nothing to a {}; use one of {}",
            if queue {
                "redis_queue"
            } else {
                "redis service"
            },
            keys.join(", ")
        ));
    }
    let ok = match key {
        "up" | "replica.up" | "failover" => value.is_boolean(),
        "master_link_status" => matches!(value.as_str(), Some("up" | "down")),
        "used_memory" | "maxmemory" => bytes(value).is_some(),
        "maxmemory_policy" => value.is_string(),
        "failover_after" => seconds(value).is_some(),
        _ => value.as_f64().is_some_and(|n| n >= 0.0),
    };
    (!ok).then(|| format!("set key '{key}' is {shown}, which is not a valid {key}"))
}

impl RedisWorld {
    /// Adds a node to a group; returns its index.
    pub fn add_node(&mut self, group: usize, role: Role, estate: Option<String>) -> usize {
        let index = self.nodes.len();
        self.nodes.push(Node {
            group,
            role,
            up: true,
            port: 0,
            run_id: run_id(&format!("{group}/{index}/{estate:?}")),
            estate,
            link_up: true,
            link_down_since: None,
            lag: 0,
            commands: 0,
            connections: 0,
            open: 0,
        });
        if let Some(g) = self.groups.get_mut(group) {
            g.nodes.push(index);
        }
        index
    }

    pub fn add_group(&mut self, master_name: Option<String>, password: Option<String>) -> usize {
        self.groups.push(Group {
            master_name,
            sentinel: None,
            master: 0,
            nodes: Vec::new(),
            lists: BTreeMap::new(),
            password,
            used_memory: 734_003_200,
            maxmemory: 2_147_483_648,
            policy: "noeviction".into(),
            evicted: 0.0,
            eviction_rate: 0.0,
            evicted_at: Duration::ZERO,
            clients: 23,
            blocked: 4,
            failover_after: Duration::from_secs(30),
            down_since: None,
            epoch: 0,
            failovers: 0,
        });
        self.groups.len() - 1
    }

    /// Applies one scenario setting to a group at `at`.
    pub fn set(&mut self, group: usize, key: &str, value: &Value, at: Duration) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        let number = value.as_f64().unwrap_or(0.0);
        match key {
            "up" => {
                let master = g.master;
                if let Some(n) = self.nodes.get_mut(master) {
                    n.up = value.as_bool().unwrap_or(true);
                }
            }
            "replica.up" | "master_link_status" | "lag" => {
                let replicas: Vec<usize> = g.replicas().collect();
                for r in replicas {
                    let Some(n) = self.nodes.get_mut(r) else {
                        continue;
                    };
                    match key {
                        "replica.up" => {
                            n.up = value.as_bool().unwrap_or(true);
                            // A node that comes back resynchronises with its master.
                            if n.up {
                                n.link_up = true;
                                n.link_down_since = None;
                            }
                        }
                        "lag" => n.lag = number as u64,
                        _ => {
                            n.link_up = value.as_str() != Some("down");
                            n.link_down_since = (!n.link_up).then_some(at);
                        }
                    }
                }
            }
            "used_memory" => g.used_memory = bytes(value).unwrap_or(g.used_memory),
            "maxmemory" => g.maxmemory = bytes(value).unwrap_or(g.maxmemory),
            "maxmemory_policy" => g.policy = value.as_str().unwrap_or("noeviction").into(),
            "connected_clients" => g.clients = number as u64,
            "blocked_clients" => g.blocked = number as u64,
            "evicted_keys" | "eviction_rate" => {
                g.evicted = g.evicted_keys(at) as f64;
                g.evicted_at = at;
                if key == "evicted_keys" {
                    g.evicted = number;
                } else {
                    g.eviction_rate = number;
                }
            }
            "failover_after" => {
                g.failover_after = Duration::from_secs_f64(seconds(value).unwrap_or(30.0));
            }
            "failover" => {
                if value.as_bool() == Some(true) {
                    let _ = self.failover(group);
                }
            }
            _ => tracing::debug!(key, "redis setting ignored"),
        }
    }

    /// Sets a queue's depth or rates.
    pub fn set_queue(
        &mut self,
        group: usize,
        db: u32,
        key: &str,
        field: &str,
        value: f64,
        at: Duration,
    ) {
        if let Some(g) = self.groups.get_mut(group) {
            let list = g
                .lists
                .entry((db, key.to_string()))
                .or_insert_with(|| Backlog::steady(0, 0.0));
            backlog::apply(list, at, field, value);
        }
    }

    /// Promotes a replica that is up; the old master becomes its replica. The error is the
    /// reply Sentinel gives.
    pub fn failover(&mut self, group: usize) -> Result<(), &'static str> {
        let Some(g) = self.groups.get(group) else {
            return Err("ERR No such master with that name");
        };
        let candidate = g
            .replicas()
            .find(|r| self.nodes.get(*r).is_some_and(|n| n.up))
            .ok_or("NOGOODSLAVE No suitable replica to promote")?;
        let old = g.master;
        if let Some(n) = self.nodes.get_mut(candidate) {
            n.role = Role::Master;
            n.link_up = true;
            n.link_down_since = None;
            n.lag = 0;
        }
        if let Some(n) = self.nodes.get_mut(old) {
            n.role = Role::Replica;
            n.link_up = n.up;
        }
        if let Some(g) = self.groups.get_mut(group) {
            g.master = candidate;
            g.epoch += 1;
            g.failovers += 1;
            g.down_since = None;
        }
        Ok(())
    }

    /// Sentinel's automatic failover: a master down longer than `failover_after` is replaced.
    pub fn tick(&mut self, at: Duration) {
        for group in 0..self.groups.len() {
            let g = &self.groups[group];
            let master_up = self.nodes.get(g.master).is_some_and(|n| n.up);
            let replicas: Vec<usize> = g.replicas().collect();
            for r in replicas {
                if let Some(n) = self.nodes.get_mut(r) {
                    if !master_up && n.link_down_since.is_none() {
                        n.link_down_since = Some(at);
                    }
                    if master_up && n.link_up && n.link_down_since.is_some() {
                        n.link_down_since = None;
                    }
                }
            }
            let g = &mut self.groups[group];
            if g.sentinel.is_none() {
                continue;
            }
            if master_up {
                g.down_since = None;
                continue;
            }
            let since = *g.down_since.get_or_insert(at);
            if at.saturating_sub(since) >= g.failover_after {
                let _ = self.failover(group);
            }
        }
    }

    /// Whether the node answers its port.
    pub fn node_up(&self, node: usize) -> bool {
        self.nodes.get(node).is_some_and(|n| n.up)
    }

    /// Whether a replica's link to its master works now.
    pub fn link_ok(&self, node: usize) -> bool {
        let Some(n) = self.nodes.get(node) else {
            return false;
        };
        let master = self.groups.get(n.group).map(|g| g.master);
        n.link_up && master.is_some_and(|m| self.node_up(m))
    }

    /// The group a Sentinel monitors under this master name.
    pub fn group_named(&self, name: &str) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.master_name.as_deref() == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sentinel_group() -> RedisWorld {
        let mut w = RedisWorld::default();
        let g = w.add_group(Some("mymaster".into()), None);
        let m = w.add_node(g, Role::Master, Some("10.0.0.1:6379".into()));
        w.add_node(g, Role::Replica, None);
        let s = w.add_node(g, Role::Sentinel, Some("10.0.0.1:26379".into()));
        w.groups[g].master = m;
        w.groups[g].sentinel = Some(s);
        w
    }

    #[test]
    fn sentinel_fails_over_after_the_master_stays_down() {
        let mut w = sentinel_group();
        w.set(0, "up", &json!(false), Duration::ZERO);
        w.tick(Duration::from_secs(10));
        assert_eq!(w.groups[0].master, 0, "not yet");
        w.tick(Duration::from_secs(41));
        assert_eq!(w.groups[0].master, 1, "the replica was promoted");
        assert_eq!(w.nodes[0].role, Role::Replica);
        assert_eq!(
            w.failover(0),
            Err("NOGOODSLAVE No suitable replica to promote")
        );
        assert!(!w.link_ok(0), "the old master is down: no link");
        w.set(0, "replica.up", &json!(true), Duration::from_secs(60));
        assert!(w.link_ok(0), "back, it resynchronises with the new master");
    }

    #[test]
    fn settings_are_checked_and_applied() {
        assert!(set_problem("up", &json!("no"), false).is_some());
        assert!(set_problem("sim.backlog", &json!(5), true).is_none());
        assert!(set_problem("sim.backlog", &json!(5), false).is_some());
        assert_eq!(bytes(&json!("1.5gb")), Some(1_610_612_736));
        let mut w = sentinel_group();
        w.set(0, "master_link_status", &json!("down"), Duration::ZERO);
        assert!(!w.link_ok(1));
        w.set(0, "eviction_rate", &json!(10), Duration::ZERO);
        assert_eq!(w.groups[0].evicted_keys(Duration::from_secs(6)), 60);
    }
}
