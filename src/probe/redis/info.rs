//! The text of Redis `INFO` as typed lookups: fields, the replica lines a master lists
//! (`slave0:ip=…,state=online,offset=…,lag=0`) and the master lines a Sentinel lists. Pure.

use std::str::FromStr;

/// One `INFO` answer, in the order the server wrote it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Info {
    fields: Vec<(String, String)>,
}

/// A replica as its master sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaLine {
    pub address: String,
    /// `online`, `wait_bgsave`, `send_bulk`…
    pub state: String,
    pub offset: Option<u64>,
    /// Seconds since the replica last acknowledged.
    pub lag_s: Option<u64>,
}

impl Info {
    /// Reads `INFO` text. Section headers, blank lines and lines without `:` are skipped; CRLF
    /// and LF endings both work.
    pub fn parse(text: &str) -> Info {
        let fields = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Info { fields }
    }

    /// The first value of a field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric field.
    pub fn num<T: FromStr>(&self, key: &str) -> Option<T> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    /// `redis_mode`: `standalone`, `sentinel` or `cluster` (absent before Redis 3).
    pub fn mode(&self) -> &str {
        self.get("redis_mode").unwrap_or("standalone")
    }

    /// `master` or `replica` (Redis writes `slave`).
    pub fn role(&self) -> &str {
        match self.get("role") {
            Some("slave") => "replica",
            Some(other) => other,
            None => "unknown",
        }
    }

    /// The replicas a master lists, in order.
    pub fn replicas(&self) -> Vec<ReplicaLine> {
        self.numbered("slave")
            .map(|attrs| {
                let get = |k: &str| attrs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
                let ip = get("ip").unwrap_or("?");
                let port = get("port").unwrap_or("?");
                ReplicaLine {
                    address: format!("{ip}:{port}"),
                    state: get("state").unwrap_or("unknown").to_string(),
                    offset: get("offset").and_then(|v| v.parse().ok()),
                    lag_s: get("lag").and_then(|v| v.parse().ok()),
                }
            })
            .collect()
    }

    /// The masters a Sentinel's `INFO` lists (`master0:name=…,status=ok,address=…`), as
    /// key/value pairs.
    pub fn sentinel_masters(&self) -> Vec<Vec<(String, String)>> {
        self.numbered("master")
            .map(|attrs| {
                attrs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    /// Fields named `<prefix><digits>` whose value is a `k=v,k=v` list.
    fn numbered<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = Vec<(&'a str, &'a str)>> {
        self.fields
            .iter()
            .filter(move |(k, _)| {
                k.strip_prefix(prefix)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|(_, v)| v.split(',').filter_map(|kv| kv.split_once('=')).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fixture(name: &str) -> String {
        let path = format!("{}/fixtures/api/redis/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).expect("fixture")
    }

    #[test]
    fn redis_7_4_master_with_two_replicas() {
        let info = Info::parse(&fixture("info-7.4.0-master-2-replicas.txt"));
        assert_eq!(info.get("redis_version"), Some("7.4.0"));
        assert_eq!(info.mode(), "standalone");
        assert_eq!(info.role(), "master");
        assert_eq!(info.num::<u64>("connected_clients"), Some(536));
        assert_eq!(info.num::<u64>("maxclients"), Some(10000));
        assert_eq!(info.num::<u64>("used_memory"), Some(27_514_219_712));
        assert_eq!(info.num::<u64>("maxmemory"), Some(0));
        let replicas = info.replicas();
        assert_eq!(replicas.len(), 2);
        assert_eq!(replicas[0].address, "192.168.150.63:6379");
        assert_eq!(replicas[0].state, "online");
        assert_eq!(replicas[1].offset, Some(127_763_585_576));
        assert_eq!(replicas[1].lag_s, Some(0));
        // `listener0:name=tcp,…` and `master_repl_offset` are not replica or master lines.
        assert!(info.sentinel_masters().is_empty());
    }

    #[test]
    fn redis_6_0_master_with_one_replica_in_full_sync() {
        let info = Info::parse(&fixture("info-6.0.9-master-slave-send_bulk-telegraf.txt"));
        assert_eq!(info.get("redis_version"), Some("6.0.9"));
        let replicas = info.replicas();
        assert_eq!(
            replicas
                .iter()
                .map(|r| r.state.as_str())
                .collect::<Vec<_>>(),
            ["online", "send_bulk"]
        );
        assert_eq!(replicas[1].address, "127.0.0.1:8379");
        assert_eq!(replicas[1].lag_s, Some(1));
    }

    #[test]
    fn redis_5_0_sentinel_lists_its_masters() {
        let info = Info::parse(&fixture("info-5.0.5-sentinel-mode.txt"));
        assert_eq!(info.mode(), "sentinel");
        assert_eq!(info.num::<u64>("sentinel_masters"), Some(2));
        let masters = info.sentinel_masters();
        // The capture repeats master0 with another address; every line is kept.
        assert_eq!(masters.len(), 3);
        let name = |m: &Vec<(String, String)>| {
            m.iter()
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.clone())
                .expect("name")
        };
        assert_eq!(name(&masters[2]), "mymaster");
        assert!(info.replicas().is_empty());
    }

    #[test]
    fn crlf_and_noise_lines_are_tolerated() {
        let info = Info::parse(
            "# Replication\r\nrole:slave\r\nmaster_link_status:down\r\n\r\n(error) ERR x\r\n",
        );
        assert_eq!(info.role(), "replica");
        assert_eq!(info.get("master_link_status"), Some("down"));
        assert_eq!(info.get("(error) ERR x"), None);
    }
}
