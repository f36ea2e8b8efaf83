//! The console end to end: the real binary in tmux against the demo simulator. Checks that
//! the failure map shows the root cause at the top, that `q` quits, and that the terminal is
//! given back (alternate screen left, cursor shown).

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn require_or_skip() -> bool {
    if tmux_available() {
        return true;
    }
    assert!(
        std::env::var("OPSDECK_REQUIRE_LIVE").as_deref() != Ok("1"),
        "tmux is not installed, and OPSDECK_REQUIRE_LIVE=1 requires the console end-to-end test"
    );
    eprintln!("skipping: tmux is not installed (apt-get install tmux)");
    false
}

struct Session {
    socket: String,
    name: String,
}

impl Session {
    fn start(tag: &str, command: &str, width: u16, height: u16) -> Session {
        let socket = format!("opsdeck-test-{}-{tag}", std::process::id());
        let name = "console".to_string();
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                &name,
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(command)
            .status()
            .expect("tmux new-session");
        assert!(status.success());
        // Keep the pane after the program exits, so its last screen can be read.
        let _ = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "set-option",
                "-t",
                &name,
                "remain-on-exit",
                "on",
            ])
            .status();
        Session { socket, name }
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(status.success());
    }

    fn pane_field(&self, field: &str) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                "-t",
                &self.name,
                field,
            ])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits (bounded) until the screen satisfies `ok`; returns the last capture.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn cloudsql_down_is_at_the_top_and_q_restores_the_terminal() {
    if !require_or_skip() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let cmd = format!(
        "env -u NO_COLOR TERM=xterm-256color {bin} --demo --scenario cloudsql-down; printf 'exited with %s\\n' $?; sleep 30"
    );
    let s = Session::start("map", &cmd, 100, 30);
    let screen = s.wait_for("the failure map with Cloud SQL down", |screen| {
        screen
            .lines()
            .any(|l| l.contains("down") && l.contains("SEV1") && l.contains("Cloud SQL (Postgres)"))
    });
    // The first service row is the root cause.
    let first_row = screen
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("STATUS"))
        .nth(1)
        .expect("a service row under the column headings");
    assert!(
        first_row.contains("Cloud SQL (Postgres)") && first_row.contains("down"),
        "{screen}"
    );
    assert!(
        screen.contains("tappass-demo"),
        "header names the estate:\n{screen}"
    );
    let api = screen
        .lines()
        .find(|l| l.contains("tappass API (Cloud Run"))
        .expect("api row");
    assert!(api.contains("impacted") && api.contains("sql"), "{api}");

    s.keys(&["q"]);
    let after = s.wait_for("the program to exit", |screen| {
        screen.contains("exited with 0")
    });
    assert!(
        !after.contains("Cloud SQL (Postgres)"),
        "the alternate screen was left, so the failure map is gone:\n{after}"
    );
    assert_eq!(
        s.pane_field("#{alternate_on}"),
        "0",
        "alternate screen left"
    );
    assert_eq!(s.pane_field("#{cursor_flag}"), "1", "cursor shown again");
}

#[test]
fn sighup_from_a_dropped_session_restores_the_terminal() {
    if !require_or_skip() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let cmd = format!(
        "sh -c '{bin} --demo & pid=$!; sleep 2; kill -HUP $pid; wait $pid; printf \"exited with %s\\n\" $?; sleep 30'"
    );
    let s = Session::start("hup", &cmd, 100, 30);
    let after = s.wait_for("the program to exit on SIGHUP", |screen| {
        screen.contains("exited with")
    });
    assert_eq!(
        s.pane_field("#{alternate_on}"),
        "0",
        "alternate screen left:\n{after}"
    );
    assert_eq!(s.pane_field("#{cursor_flag}"), "1", "cursor shown again");
}
