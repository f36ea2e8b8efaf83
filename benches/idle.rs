//! The console at idle, measured from outside: the release binary runs in tmux on a generated
//! estate (`--demo --estate FILE`, the built-in simulator serving it, every service polled
//! every 30 s), nobody touches a key, and this reports the bytes it writes to the terminal
//! per second, its CPU use (utime + stime from /proc/PID/stat) and its memory (VmRSS and
//! VmHWM from /proc/PID/status), at 200 and at 5000 services.
//!
//! `cargo bench --bench idle`; `OPSDECK_IDLE_SECS` sets the measured window (default 30 s),
//! `OPSDECK_IDLE_SERVICES` the estate sizes (default `200,5000`). Needs tmux and Linux /proc.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Time for the first probes to land and the first full frames to be drawn.
const WARM_UP: Duration = Duration::from_secs(15);
/// The terminal the console runs in.
const COLUMNS: u16 = 160;
const ROWS: u16 = 48;

/// An estate of `n` services in three regions of kinds the simulator serves, a fifth of them
/// depending on another service.
fn generated_estate(n: usize) -> String {
    let regions = ["europe-west1", "us-central1", "africa-south1"];
    let mut s =
        String::from("name = \"idle-bench\"\nenvironment = \"prod\"\n[gcp]\nproject = \"bench\"\n");
    for (i, r) in regions.iter().enumerate() {
        let _ = write!(s, "[[region]]\nid = \"r{i}\"\ngcp_region = \"{r}\"\n");
    }
    for i in 0..n {
        let body = match i % 5 {
            0 | 1 => format!("kind = \"cloud_run\"\nservice = \"run-{i}\""),
            2 => format!("kind = \"cloud_sql\"\ninstance = \"sql-{i}\""),
            3 => format!("kind = \"memorystore\"\ninstance = \"redis-{i}\""),
            _ => format!("kind = \"http\"\nurl = \"https://svc-{i}.example.com/healthz\""),
        };
        let deps = if i >= 5 && i % 5 < 2 {
            format!("depends_on = [\"s{}\"]\n", i - 3)
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "[[service]]\nid = \"s{i}\"\nname = \"Service {i}\"\nregion = \"r{}\"\nsev = {}\n{body}\n{deps}",
            i % 3,
            1 + i % 4
        );
    }
    s
}

fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat; 3 is the first after the name.
    field(11) + field(12)
}

/// A `Vm…` line of /proc/PID/status, in kB.
fn vm_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

struct Figures {
    bytes_per_s: f64,
    cpu_percent: f64,
    rss_kb: u64,
    hwm_kb: u64,
    first_frames_bytes: u64,
}

fn measure(bin: &str, services: usize, window: Duration) -> Figures {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let estate = dir.path().join("estate.toml");
    std::fs::write(&estate, generated_estate(services)).expect("estate written");
    let out = dir.path().join("terminal.out");
    let socket = format!("opsdeck-idle-{}-{services}", std::process::id());
    let cmd = format!(
        "exec env -u NO_COLOR TERM=xterm-256color {bin} --demo --estate {}",
        estate.display()
    );
    let status = Command::new("tmux")
        .args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "idle",
        ])
        .args(["-x", &COLUMNS.to_string(), "-y", &ROWS.to_string()])
        .arg(&cmd)
        .status()
        .expect("tmux new-session");
    assert!(status.success(), "tmux could not start");
    tmux(
        &socket,
        &[
            "pipe-pane",
            "-o",
            "-t",
            "idle",
            &format!("cat >> {}", out.display()),
        ],
    );
    let pid: u32 = tmux(
        &socket,
        &["display-message", "-p", "-t", "idle", "#{pane_pid}"],
    )
    .parse()
    .expect("the console's pid");

    std::thread::sleep(WARM_UP);
    let first_frames_bytes = file_len(&out);
    let (bytes0, ticks0, t0) = (file_len(&out), cpu_ticks(pid), Instant::now());
    std::thread::sleep(window);
    let (bytes1, ticks1, elapsed) = (file_len(&out), cpu_ticks(pid), t0.elapsed());
    let figures = Figures {
        bytes_per_s: (bytes1 - bytes0) as f64 / elapsed.as_secs_f64(),
        cpu_percent: (ticks1 - ticks0) as f64 / clock_ticks_per_second() / elapsed.as_secs_f64()
            * 100.0,
        rss_kb: vm_kb(pid, "VmRSS:"),
        hwm_kb: vm_kb(pid, "VmHWM:"),
        first_frames_bytes,
    };
    let screen = tmux(&socket, &["capture-pane", "-p", "-t", "idle"]);
    tmux(&socket, &["kill-server"]);
    assert!(
        screen.contains("idle-bench"),
        "the console did not come up:\n{screen}"
    );
    figures
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing to run for.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let available = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available || !Path::new("/proc/self/stat").exists() {
        eprintln!("idle: skipped (needs tmux and /proc)");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let window = Duration::from_secs(
        std::env::var("OPSDECK_IDLE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    );
    let sizes: Vec<usize> = std::env::var("OPSDECK_IDLE_SERVICES")
        .unwrap_or_else(|_| "200,5000".to_string())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    println!(
        "idle console in tmux {COLUMNS}x{ROWS}, --demo on a generated estate, every service polled every 30s; {}s window after {}s warm-up",
        window.as_secs(),
        WARM_UP.as_secs()
    );
    for services in sizes {
        let f = measure(bin, services, window);
        println!(
            "idle/{services}: {:.0} bytes/s to the terminal, CPU {:.2}% of one core (console + poller + in-process simulator), VmRSS {:.1} MiB, VmHWM {:.1} MiB (first frames: {} bytes)",
            f.bytes_per_s,
            f.cpu_percent,
            f.rss_kb as f64 / 1024.0,
            f.hwm_kb as f64 / 1024.0,
            f.first_frames_bytes
        );
    }
}
