//! Helpers for the live probe tests: whether a real server is there (and whether its absence
//! fails the run), free loopback ports, private server processes that stop when dropped, and
//! the process-wide TLS provider.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a live test may go on. A server that is not there fails the test when
/// `OPSDECK_REQUIRE_LIVE=1` (CI), and otherwise skips it with a message saying what is missing.
pub fn live(name: &str, reachable: bool) -> bool {
    if reachable {
        return true;
    }
    assert!(
        std::env::var("OPSDECK_REQUIRE_LIVE").as_deref() != Ok("1"),
        "{name} is not reachable, and OPSDECK_REQUIRE_LIVE=1 requires it"
    );
    eprintln!("skipped: {name} is not reachable (set OPSDECK_REQUIRE_LIVE=1 to make this fail)");
    false
}

/// Whether something accepts TCP connections on this loopback port.
pub fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits (at most `limit`) until the port accepts connections.
pub fn wait_port(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if port_open(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Whether a program can be run (found on PATH or at this path).
pub fn have(program: &str) -> bool {
    Path::new(program).is_file()
        || std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(program).is_file())
        })
}

/// Runs a command to completion and fails the test with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private server process, killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub name: String,
}

impl Server {
    /// Starts `cmd` and waits until it listens on `port`.
    pub fn start(name: &str, cmd: &mut Command, port: u16) -> Server {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut server = Server {
            child: Some(child),
            port,
            name: name.to_string(),
        };
        assert!(
            wait_port(port, Duration::from_secs(20)),
            "{name} did not listen on port {port}"
        );
        server.check_alive();
        server
    }

    fn check_alive(&mut self) {
        if let Some(child) = &mut self.child
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("{} exited at start: {status}", self.name);
        }
    }

    /// Kills the process now (the fault a test wants) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    /// Asks the process to stop (SIGTERM), and kills it if it is still there after 5 s.
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    self.child = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }
}

/// The uid and gid of a system user (`postgres`, `mysql`), for running its servers.
pub fn user_ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        run(Command::new("id").args([flag, user]))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("id {flag} {user}: {e}"))
    };
    (id("-u"), id("-g"))
}

/// Gives a directory (and what is in it) to a system user.
pub fn give(dir: &Path, user: &str) {
    run(Command::new("chown")
        .args(["-R", &format!("{user}:{user}")])
        .arg(dir));
}

/// Polls `probe` until `done` holds for its answer or `limit` passes; returns the last answer.
pub async fn poll<T, F, Fut>(limit: Duration, mut probe: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let start = Instant::now();
    loop {
        let answer = probe().await;
        if done(&answer) || start.elapsed() > limit {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The rustls provider the binary installs at start; TLS clients need it in tests too.
pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The observation inside an outcome (fails the test for a stale-refresh outcome).
pub fn observed(outcome: opsdeck::model::Outcome) -> opsdeck::model::Observation {
    match outcome {
        opsdeck::model::Outcome::Observed(obs) => obs,
        opsdeck::model::Outcome::Failed { error, .. } => {
            panic!("expected an observation, got a failed refresh: {error}")
        }
    }
}
