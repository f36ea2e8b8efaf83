//! The text of INFO for a simulated redis-server or redis-sentinel: every section a Redis 7.2
//! server writes, with the values that follow the scenario (role, connected_slaves,
//! master_link_status, lag, used_memory / maxmemory, clients, evictions, keyspace). Pure.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::sim::redis_model::{Group, RedisWorld, Role};

/// The version every simulated server reports.
pub(crate) const VERSION: &str = "7.2.4";

/// The sections `INFO` (no argument) and `INFO default` print, in order.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
/// The sections a Sentinel has.
const SENTINEL: &[&str] = &["server", "clients", "cpu", "stats", "sentinel"];

/// What the server knows when it writes INFO.
pub(crate) struct Ctx<'a> {
    pub world: &'a RedisWorld,
    pub node: usize,
    pub at: Duration,
    pub wall: DateTime<Utc>,
    pub uptime: u64,
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

/// INFO's answer for the sections asked (none: the default ones).
pub(crate) fn info(ctx: &Ctx, asked: &[String]) -> String {
    let Some(node) = ctx.world.nodes.get(ctx.node) else {
        return String::new();
    };
    let sentinel = node.role == Role::Sentinel;
    let all: &[&str] = if sentinel { SENTINEL } else { DEFAULT };
    let asked: Vec<String> = asked.iter().map(|s| s.to_ascii_lowercase()).collect();
    let everything = asked.iter().any(|s| s == "all" || s == "everything");
    let wanted: Vec<&str> = if asked.is_empty() || asked.iter().any(|s| s == "default") {
        all.to_vec()
    } else if everything {
        let mut v = all.to_vec();
        if !sentinel {
            v.insert(v.len() - 3, "commandstats");
            v.insert(v.len() - 2, "latencystats");
        }
        v
    } else {
        all.iter()
            .copied()
            .chain(["commandstats", "latencystats"])
            .filter(|s| asked.iter().any(|a| a == s))
            .collect()
    };
    let mut out = String::new();
    for section in wanted {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = writeln!(out, "# {}\r", title(section));
        let body = match section {
            "server" => server(ctx, sentinel),
            "clients" => clients(ctx),
            "memory" => memory(ctx),
            "persistence" => persistence(ctx),
            "stats" => stats(ctx),
            "replication" => replication(ctx),
            "cpu" => cpu(ctx),
            "commandstats" => format!(
                "cmdstat_info:calls={0},usec={1},usec_per_call=41.20,rejected_calls=0,failed_calls=0\ncmdstat_llen:calls={0},usec={0},usec_per_call=1.00,rejected_calls=0,failed_calls=0\n",
                node.commands.max(1),
                node.commands.max(1) * 41
            ),
            "latencystats" => "latency_percentiles_usec_info:p50=40.191,p99=98.303,p99.9=131.071\nlatency_percentiles_usec_llen:p50=1.003,p99=3.007,p99.9=9.023\n".into(),
            "cluster" => "cluster_enabled:0\n".into(),
            "keyspace" => keyspace(ctx),
            "sentinel" => sentinel_section(ctx),
            _ => String::new(),
        };
        for line in body.lines() {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

fn title(section: &str) -> &'static str {
    match section {
        "server" => "Server",
        "clients" => "Clients",
        "memory" => "Memory",
        "persistence" => "Persistence",
        "stats" => "Stats",
        "replication" => "Replication",
        "cpu" => "CPU",
        "modules" => "Modules",
        "commandstats" => "Commandstats",
        "errorstats" => "Errorstats",
        "latencystats" => "Latencystats",
        "cluster" => "Cluster",
        "keyspace" => "Keyspace",
        _ => "Sentinel",
    }
}

fn group<'a>(ctx: &Ctx<'a>) -> Option<&'a Group> {
    ctx.world
        .nodes
        .get(ctx.node)
        .and_then(|n| ctx.world.groups.get(n.group))
}

fn server(ctx: &Ctx, sentinel: bool) -> String {
    let Some(n) = ctx.world.nodes.get(ctx.node) else {
        return String::new();
    };
    let micros = ctx.wall.timestamp_micros();
    format!(
        "redis_version:{VERSION}\nredis_git_sha1:00000000\nredis_git_dirty:0\nredis_build_id:7b8617dd94058f85\nredis_mode:{mode}\nos:Linux 6.1.0-28-cloud-amd64 x86_64\narch_bits:64\nmonotonic_clock:POSIX clock_gettime\nmultiplexing_api:epoll\natomicvar_api:c11-builtin\ngcc_version:12.2.0\nprocess_id:{pid}\nprocess_supervised:no\nrun_id:{run_id}\ntcp_port:{port}\nserver_time_usec:{micros}\nuptime_in_seconds:{up}\nuptime_in_days:{days}\nhz:10\nconfigured_hz:10\nlru_clock:{lru}\nexecutable:/usr/local/bin/{exe}\nconfig_file:/etc/redis/{exe}.conf\nio_threads_active:0\nlistener0:name=tcp,bind=*,bind=-::*,port={port}\n",
        mode = if sentinel { "sentinel" } else { "standalone" },
        pid = 7 + ctx.node,
        run_id = n.run_id,
        port = n.port,
        up = ctx.uptime,
        days = ctx.uptime / 86_400,
        lru = (micros / 1_000_000) % 16_777_216,
        exe = if sentinel {
            "redis-sentinel"
        } else {
            "redis-server"
        },
    )
}

fn clients(ctx: &Ctx) -> String {
    let open = ctx.world.nodes.get(ctx.node).map_or(0, |n| n.open);
    let (base, blocked) = match group(ctx) {
        Some(g)
            if ctx
                .world
                .nodes
                .get(ctx.node)
                .is_some_and(|n| n.role == Role::Master) =>
        {
            (g.clients, g.blocked)
        }
        _ => (1, 0),
    };
    format!(
        "connected_clients:{}\ncluster_connections:0\nmaxclients:10000\nclient_recent_max_input_buffer:20480\nclient_recent_max_output_buffer:0\nblocked_clients:{blocked}\ntracking_clients:0\npubsub_clients:0\nwatching_clients:0\nclients_in_timeout_table:{blocked}\ntotal_watched_keys:0\ntotal_blocking_keys:{blocked}\ntotal_blocking_keys_on_nokey:0\n",
        base + open
    )
}

fn memory(ctx: &Ctx) -> String {
    let Some(g) = group(ctx) else {
        return String::new();
    };
    let used = g.used_memory;
    let rss = used + used / 12;
    let peak = used + used / 20;
    let system: u64 = 16_765_046_784;
    format!(
        "used_memory:{used}\nused_memory_human:{}\nused_memory_rss:{rss}\nused_memory_rss_human:{}\nused_memory_peak:{peak}\nused_memory_peak_human:{}\nused_memory_peak_perc:{:.2}%\nused_memory_overhead:{}\nused_memory_startup:946424\nused_memory_dataset:{}\nused_memory_dataset_perc:{:.2}%\nallocator_allocated:{used}\nallocator_active:{rss}\nallocator_resident:{rss}\ntotal_system_memory:{system}\ntotal_system_memory_human:{}\nused_memory_lua:31744\nused_memory_vm_eval:31744\nused_memory_lua_human:31.00K\nused_memory_scripts_eval:0\nnumber_of_cached_scripts:0\nnumber_of_functions:0\nnumber_of_libraries:0\nused_memory_vm_functions:32768\nused_memory_vm_total:64512\nused_memory_vm_total_human:63.00K\nused_memory_functions:184\nused_memory_scripts:184\nused_memory_scripts_human:184B\nmaxmemory:{max}\nmaxmemory_human:{}\nmaxmemory_policy:{policy}\nallocator_frag_ratio:1.01\nallocator_frag_bytes:{}\nallocator_rss_ratio:1.00\nallocator_rss_bytes:0\nrss_overhead_ratio:1.00\nrss_overhead_bytes:0\nmem_fragmentation_ratio:1.08\nmem_fragmentation_bytes:{}\nmem_not_counted_for_evict:0\nmem_replication_backlog:1048592\nmem_total_replication_buffers:1048592\nmem_clients_slaves:0\nmem_clients_normal:{}\nmem_cluster_links:0\nmem_aof_buffer:0\nmem_allocator:jemalloc-5.3.0\nactive_defrag_running:0\nlazyfree_pending_objects:0\nlazyfreed_objects:0\n",
        human(used),
        human(rss),
        human(peak),
        used as f64 * 100.0 / peak as f64,
        used / 20,
        used - used / 20,
        95.0,
        human(system),
        human(g.maxmemory),
        rss - used,
        rss - used,
        g.clients * 22_400,
        max = g.maxmemory,
        policy = g.policy,
    )
}

fn persistence(ctx: &Ctx) -> String {
    let saved = ctx.wall.timestamp() - 117;
    format!(
        "loading:0\nasync_loading:0\ncurrent_cow_peak:0\ncurrent_cow_size:0\ncurrent_cow_size_age:0\ncurrent_fork_perc:0.00\ncurrent_save_keys_processed:0\ncurrent_save_keys_total:0\nrdb_changes_since_last_save:{}\nrdb_bgsave_in_progress:0\nrdb_last_save_time:{saved}\nrdb_last_bgsave_status:ok\nrdb_last_bgsave_time_sec:1\nrdb_current_bgsave_time_sec:-1\nrdb_saves:{}\nrdb_last_cow_size:1339392\nrdb_last_load_keys_expired:0\nrdb_last_load_keys_loaded:0\naof_enabled:0\naof_rewrite_in_progress:0\naof_rewrite_scheduled:0\naof_last_rewrite_time_sec:-1\naof_current_rewrite_time_sec:-1\naof_last_bgrewrite_status:ok\naof_rewrites:0\naof_rewrites_consecutive_failures:0\naof_last_write_status:ok\naof_last_cow_size:0\nmodule_fork_in_progress:0\nmodule_fork_last_cow_size:0\n",
        ctx.at.as_secs() % 997,
        ctx.uptime / 300,
    )
}

fn stats(ctx: &Ctx) -> String {
    let Some(n) = ctx.world.nodes.get(ctx.node) else {
        return String::new();
    };
    let evicted = group(ctx).map_or(0, |g| g.evicted_keys(ctx.at));
    let processed = n.commands + ctx.uptime * 230;
    format!(
        "total_connections_received:{}\ntotal_commands_processed:{processed}\ninstantaneous_ops_per_sec:230\ntotal_net_input_bytes:{}\ntotal_net_output_bytes:{}\ntotal_net_repl_input_bytes:0\ntotal_net_repl_output_bytes:0\ninstantaneous_input_kbps:12.41\ninstantaneous_output_kbps:31.07\ninstantaneous_input_repl_kbps:0.00\ninstantaneous_output_repl_kbps:0.00\nrejected_connections:0\nsync_full:1\nsync_partial_ok:0\nsync_partial_err:0\nexpired_keys:{}\nexpired_stale_perc:0.00\nexpired_time_cap_reached_count:0\nexpire_cycle_cpu_milliseconds:{}\nevicted_keys:{evicted}\nevicted_clients:0\ntotal_eviction_exceeded_time:0\ncurrent_eviction_exceeded_time:0\nkeyspace_hits:{}\nkeyspace_misses:{}\npubsub_channels:0\npubsub_patterns:0\npubsubshard_channels:0\nlatest_fork_usec:312\ntotal_forks:{}\nmigrate_cached_sockets:0\nslave_expires_tracked_keys:0\nactive_defrag_hits:0\nactive_defrag_misses:0\nactive_defrag_key_hits:0\nactive_defrag_key_misses:0\ntotal_active_defrag_time:0\ncurrent_active_defrag_time:0\ntracking_total_keys:0\ntracking_total_items:0\ntracking_total_prefixes:0\nunexpected_error_replies:0\ntotal_error_replies:0\ndump_payload_sanitizations:0\ntotal_reads_processed:{processed}\ntotal_writes_processed:{processed}\nio_threaded_reads_processed:0\nio_threaded_writes_processed:0\nreply_buffer_shrinks:12\nreply_buffer_expands:3\neventloop_cycles:{processed}\neventloop_duration_sum:{}\neventloop_duration_cmd_sum:{}\ninstantaneous_eventloop_cycles_per_sec:241\ninstantaneous_eventloop_duration_usec:38\nacl_access_denied_auth:0\nacl_access_denied_cmd:0\nacl_access_denied_key:0\nacl_access_denied_channel:0\n",
        n.connections + ctx.uptime / 60,
        processed * 41,
        processed * 97,
        ctx.uptime * 3,
        ctx.uptime / 10,
        processed / 2,
        processed / 9,
        ctx.uptime / 300,
        processed * 38,
        processed * 9,
    )
}

fn replication(ctx: &Ctx) -> String {
    let w = ctx.world;
    let (Some(n), Some(g)) = (w.nodes.get(ctx.node), group(ctx)) else {
        return String::new();
    };
    let offset = g.repl_offset(ctx.at);
    let replid = &w
        .nodes
        .get(g.master)
        .map_or(n.run_id.clone(), |m| m.run_id.clone());
    let tail = format!(
        "master_failover_state:no-failover\nmaster_replid:{replid}\nmaster_replid2:0000000000000000000000000000000000000000\nmaster_repl_offset:{offset}\nsecond_repl_offset:-1\nrepl_backlog_active:1\nrepl_backlog_size:1048576\nrepl_backlog_first_byte_offset:{}\nrepl_backlog_histlen:{}\n",
        offset.saturating_sub(1_048_575),
        offset.min(1_048_576)
    );
    if n.role == Role::Master {
        let mut out = String::from("role:master\n");
        let live: Vec<usize> = g
            .replicas()
            .filter(|r| w.node_up(*r) && w.link_ok(*r))
            .collect();
        let _ = writeln!(out, "connected_slaves:{}", live.len());
        for (i, r) in live.iter().enumerate() {
            let rn = &w.nodes[*r];
            let behind = rn.lag * 48_000;
            let _ = writeln!(
                out,
                "slave{i}:ip=127.0.0.1,port={},state=online,offset={},lag={}",
                rn.port,
                offset.saturating_sub(behind),
                rn.lag
            );
        }
        return out + &tail;
    }
    let master_port = w.nodes.get(g.master).map_or(0, |m| m.port);
    let ok = w.link_ok(ctx.node);
    let read = offset.saturating_sub(n.lag * 48_000);
    let mut out = format!(
        "role:slave\nmaster_host:127.0.0.1\nmaster_port:{master_port}\nmaster_link_status:{}\nmaster_last_io_seconds_ago:{}\nmaster_sync_in_progress:0\nslave_read_repl_offset:{read}\nslave_repl_offset:{read}\n",
        if ok { "up" } else { "down" },
        if ok { n.lag.min(10) as i64 } else { -1 },
    );
    if !ok {
        let since = n.link_down_since.unwrap_or(ctx.at);
        let _ = writeln!(
            out,
            "master_link_down_since_seconds:{}",
            ctx.at.saturating_sub(since).as_secs()
        );
    }
    out.push_str(
        "slave_priority:100\nslave_read_only:1\nreplica_announced:1\nconnected_slaves:0\n",
    );
    out + &tail
}

fn cpu(ctx: &Ctx) -> String {
    let t = ctx.uptime as f64;
    format!(
        "used_cpu_sys:{:.6}\nused_cpu_user:{:.6}\nused_cpu_sys_children:{:.6}\nused_cpu_user_children:{:.6}\nused_cpu_sys_main_thread:{:.6}\nused_cpu_user_main_thread:{:.6}\n",
        t * 0.004,
        t * 0.006,
        t * 0.0001,
        t * 0.0003,
        t * 0.0039,
        t * 0.0059
    )
}

fn keyspace(ctx: &Ctx) -> String {
    let Some(g) = group(ctx) else {
        return String::new();
    };
    let mut dbs: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
    dbs.insert(0, g.base_keys());
    for ((db, _), list) in &g.lists {
        if list.depth(ctx.at) > 0 {
            *dbs.entry(*db).or_default() += 1;
        }
    }
    let mut out = String::new();
    for (db, keys) in &dbs {
        let _ = writeln!(
            out,
            "db{db}:keys={keys},expires={},avg_ttl=2591873,subexpiry=0",
            keys * 3 / 4
        );
    }
    out
}

fn sentinel_section(ctx: &Ctx) -> String {
    let w = ctx.world;
    let mut out = String::from(
        "sentinel_masters:1\nsentinel_tilt:0\nsentinel_tilt_since_seconds:-1\nsentinel_running_scripts:0\nsentinel_scripts_queue_length:0\nsentinel_simulate_failure_flags:0\n",
    );
    if let Some(g) = group(ctx) {
        let name = g.master_name.as_deref().unwrap_or("mymaster");
        let port = w.nodes.get(g.master).map_or(0, |m| m.port);
        let status = if w.node_up(g.master) { "ok" } else { "odown" };
        let _ = writeln!(
            out,
            "master0:name={name},status={status},address=127.0.0.1:{port},slaves={},sentinels=1",
            g.replicas().count()
        );
    }
    out
}
