//! The console end to end: the real binary in tmux against the demo simulator with Cloud SQL
//! down. An engineer's path through it (navigate to Cloud SQL, open its detail, filter, switch
//! views, freeze, copy, quit), a bad theme named on the command line, and a dropped session
//! (SIGHUP); each time the terminal must be given back (alternate screen left, cursor shown).

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
        // Keys arrive as typed (no wait after Esc), and OSC 52 from the program fills a tmux
        // buffer that the test can read.
        for option in [["escape-time", "0"], ["set-clipboard", "on"]] {
            let _ = Command::new("tmux")
                .args(["-L", &socket, "set-option", "-s"])
                .args(option)
                .status();
        }
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

    /// The pane as shown once the program has finished drawing: two captures a moment apart
    /// that agree (a single capture can land halfway through a frame).
    fn capture(&self) -> String {
        let mut last = self.capture_once();
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(40));
            let now = self.capture_once();
            if now == last {
                return now;
            }
            last = now;
        }
        last
    }

    fn capture_once(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The newest tmux paste buffer (what the program copied with OSC 52).
    fn buffer(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "show-buffer"])
            .output()
            .expect("show-buffer");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types text literally (no key names).
    fn type_text(&self, text: &str) {
        let status = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "send-keys",
                "-l",
                "-t",
                &self.name,
                text,
            ])
            .status()
            .expect("send-keys -l");
        assert!(status.success());
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

/// The first service row under the column headings of the failure map.
fn first_row(screen: &str) -> String {
    screen
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("STATUS"))
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// The title of the summary strip under the map: the selected service.
fn strip_title(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains(" · ") && l.contains("since"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn an_engineer_navigates_opens_detail_filters_switches_views_and_quits() {
    if !require_or_skip() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let cmd = format!(
        "env -u NO_COLOR TERM=xterm-256color {bin} --demo --scenario cloudsql-down; printf 'exited with %s\\n' $?; sleep 30"
    );
    let s = Session::start("map", &cmd, 100, 30);
    let screen = s.wait_for("the failure map with Cloud SQL down", |screen| {
        first_row(screen).contains("Cloud SQL (Postgres)")
    });
    // The root cause is on top, at its SEV, with glyph and word; the header names the estate.
    let top = first_row(&screen);
    assert!(top.contains("✖ down") && top.contains("SEV1"), "{screen}");
    assert!(
        screen.contains("tappass-demo") && screen.contains("PROD"),
        "{screen}"
    );
    let api = screen
        .lines()
        .find(|l| l.contains("tappass API (Cloud Run"))
        .expect("api row");
    assert!(api.contains("impacted") && api.contains("sql"), "{api}");

    // Navigate away and back to Cloud SQL: the strip follows the selection.
    s.keys(&["j", "j"]);
    s.wait_for("the selection to move down", |screen| {
        !strip_title(screen).starts_with(" sql ·")
    });
    s.keys(&["k", "k"]);
    s.wait_for("the selection back on Cloud SQL", |screen| {
        strip_title(screen).starts_with(" sql · Cloud SQL (Postgres)")
    });

    // Enter: everything about it; G scrolls to its dependents and runbooks; Esc goes back.
    s.keys(&["Enter"]);
    // Waits for the whole frame: a capture can land while the terminal is still being drawn.
    let detail = s.wait_for("the detail view", |screen| {
        screen.contains("── Now") && screen.contains("── Observations")
    });
    assert!(detail.contains("Cloud SQL (Postgres)  sql"), "{detail}");
    assert!(detail.contains("the instance is FAILED"), "{detail}");
    assert!(detail.contains("── Observations"), "{detail}");
    s.keys(&["G"]);
    let bottom = s.wait_for("the end of the detail view", |screen| {
        screen.contains("── Runbooks")
    });
    assert!(
        bottom.contains("── Needed by") && bottom.contains("api"),
        "{bottom}"
    );
    s.keys(&["Escape"]);
    s.wait_for("the failure map again", |screen| {
        first_row(screen).contains("Cloud SQL (Postgres)")
    });

    // Filter to the US region, as typed, then Enter keeps it; Esc clears it.
    s.type_text("/region:us");
    s.wait_for("the filter being typed", |screen| {
        screen.contains("/region:us") && !screen.contains("tappass API (Cloud Run + OPA")
    });
    s.keys(&["Enter"]);
    let filtered = s.wait_for("the filter applied", |screen| {
        screen.contains("filter region:us")
    });
    assert!(filtered.contains("Cloud SQL (Postgres), US"), "{filtered}");
    assert!(!filtered.contains("Serverless VPC connector"), "{filtered}");
    s.keys(&["Escape"]);
    s.wait_for("the filter cleared", |screen| {
        !screen.contains("filter region:us") && screen.contains("Serverless VPC connector")
    });

    // Switch views: Tab, the command line, a digit; help over it all.
    s.keys(&["Tab"]);
    let topology = s.wait_for("the topology", |screen| {
        screen.contains("eu · europe-west1") && screen.contains("us · us-central1")
    });
    assert!(topology.contains("blast radius"), "{topology}");
    s.type_text(":queues");
    s.keys(&["Enter"]);
    s.wait_for("the queues view", |screen| {
        screen.contains("DEPTH TREND") || screen.contains("no queues in this estate")
    });
    s.keys(&["5"]);
    let events = s.wait_for("the events view", |screen| screen.contains("TIME (UTC)"));
    assert!(
        events.contains("sql") && events.contains("down"),
        "{events}"
    );
    s.keys(&["?"]);
    s.wait_for("the help popup", |screen| screen.contains("┌ Help"));
    s.keys(&["Escape"]);
    s.wait_for("help closed", |screen| !screen.contains("┌ Help"));

    // Freeze holds the screen; y copies the selection to the clipboard through OSC 52 (the
    // filter left the selection in the US: Home goes back to the worst service).
    s.keys(&["1", "Home", "f"]);
    s.wait_for("the FROZEN badge", |screen| screen.contains("FROZEN"));
    s.keys(&["f", "y"]);
    s.wait_for("the copy note", |screen| screen.contains("copied sql"));
    let clipboard = s.buffer();
    assert!(
        clipboard.starts_with("Cloud SQL (Postgres) (sql) · down SEV1"),
        "tmux received the OSC 52 copy: {clipboard:?}"
    );

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
fn a_bad_theme_is_a_warning_in_the_footer_not_a_failure() {
    if !require_or_skip() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let cmd = format!(
        "env -u NO_COLOR TERM=xterm-256color {bin} --demo --theme no-such-theme; printf 'exited with %s\\n' $?; sleep 30"
    );
    let s = Session::start("theme", &cmd, 120, 24);
    let screen = s.wait_for("the console with a theme warning", |screen| {
        screen.contains("no theme named \"no-such-theme\"")
    });
    assert!(
        screen.contains("STATUS") || screen.contains("loading"),
        "{screen}"
    );
    s.type_text(":theme high-contrast");
    s.keys(&["Enter"]);
    s.wait_for("the theme switched", |screen| {
        screen.contains("theme high-contrast")
    });
    s.keys(&["q"]);
    s.wait_for("the program to exit", |screen| {
        screen.contains("exited with 0")
    });
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

#[test]
fn editing_the_estate_file_reloads_it_and_a_broken_edit_keeps_the_last_good_one() {
    if !require_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let estate = dir.path().join("estate.toml");
    // Health endpoints on a port nobody listens on: the services are down, and listed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let service = |id: &str| {
        format!(
            "[[service]]\nid = \"{id}\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{closed}/{id}\"\nsev = 2\n"
        )
    };
    let first = format!("name = \"reload-test\"\n{}", service("alpha"));
    std::fs::write(&estate, &first).expect("write the estate");
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let state = dir.path().join("state");
    let cmd = format!(
        "OPSDECK_STATE_DIR={} {bin} --estate {} --quiet; printf 'exited with %s\\n' $?; sleep 30",
        state.display(),
        estate.display()
    );
    let s = Session::start("reload", &cmd, 140, 30);
    s.wait_for("the first estate", |screen| screen.contains("alpha"));

    std::fs::write(&estate, format!("{first}{}", service("beta"))).expect("edit the estate");
    let screen = s.wait_for("the added service", |screen| {
        screen.contains("beta") && screen.contains("estate reloaded")
    });
    assert!(screen.contains("alpha"), "{screen}");

    std::fs::write(
        &estate,
        format!("{first}{}", service("gamma")).replace("sev = 2", "sev = 7"),
    )
    .expect("break the estate");
    let screen = s.wait_for("the rejected edit", |screen| {
        screen.contains("estate not reloaded, the last good one runs")
            && screen.contains("key 'sev' must be 1")
    });
    assert!(
        screen.contains("beta") && !screen.contains("gamma"),
        "the last good estate stays:\n{screen}"
    );
    s.keys(&["q"]);
    s.wait_for("the program to exit", |screen| {
        screen.contains("exited with 0")
    });
}

/// A private home for the console and `opsdeck audit`: data (audit log, leases), state and
/// config directories that touch nothing of the real home.
fn private_dirs(tag: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("opsdeck-tmux-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a private directory");
    let d = dir.display();
    let env = format!(
        "HOME={d}/home OPSDECK_DATA_DIR={d}/data OPSDECK_STATE_DIR={d}/state XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/xdg XDG_STATE_HOME={d}/xdg-state"
    );
    (dir, env)
}

/// `opsdeck audit show` with the console's data directory.
fn audit_show(dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["audit", "show"])
        .env("OPSDECK_DATA_DIR", dir.join("data"))
        .env("HOME", dir.join("home"))
        .output()
        .expect("opsdeck audit show");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Selects sql on the failure map, opens its runbooks with R, picks cloud-sql-failover and
/// waits for its dry-run plan.
fn open_failover_plan(s: &Session) -> String {
    s.wait_for("the failure map with Cloud SQL down", |screen| {
        first_row(screen).contains("Cloud SQL (Postgres)")
    });
    s.keys(&["Home"]);
    s.wait_for("sql selected", |screen| {
        strip_title(screen).starts_with(" sql ·")
    });
    s.keys(&["R"]);
    let list = s.wait_for("the runbooks for sql", |screen| {
        screen.contains("Runbooks for sql") && screen.contains("cloud-sql-failover")
    });
    assert!(
        !list.contains("k8s-scale"),
        "only runbooks that apply:\n{list}"
    );
    // The estate links cloud-sql-failover to sql: it is listed first.
    s.keys(&["Enter"]);
    s.wait_for("the dry-run plan", |screen| {
        screen.contains("── Plan (dry run") && screen.contains("── Confirm")
    })
}

#[test]
fn a_runbook_runs_from_the_console_after_its_plan_and_a_typed_confirmation() {
    if !require_or_skip() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let (dir, env) = private_dirs("runbook");
    let cmd = format!(
        "env -u NO_COLOR TERM=xterm-256color {env} {bin} --demo --scenario cloudsql-zone-failover-needed; printf 'exited with %s\\n' $?; sleep 30"
    );
    let s = Session::start("runbook", &cmd, 120, 40);
    let plan = open_failover_plan(&s);
    assert!(
        plan.contains("cloud-sql-failover") && plan.contains("POST http"),
        "{plan}"
    );
    assert!(plan.contains("/failover"), "the exact request:\n{plan}");
    // Enter alone and a wrong id never confirm.
    s.keys(&["Enter"]);
    s.wait_for("Enter alone refused", |screen| {
        screen.contains("Enter alone never confirms")
    });
    s.type_text("api");
    s.keys(&["Enter"]);
    let still = s.wait_for("the wrong id refused", |screen| {
        screen.contains("\"api\" is not the target")
    });
    assert!(
        still.contains("── Confirm") && !still.contains("── Steps"),
        "{still}"
    );
    // The target's id: it runs, step by step, then waits at the manual step.
    s.type_text("sql");
    s.keys(&["Enter"]);
    s.wait_for("the run's steps", |screen| screen.contains("── Steps"));
    let manual = s.wait_for("the manual step", |screen| screen.contains("Manual step 5"));
    assert!(manual.contains("reconnected"), "{manual}");
    assert!(
        manual.contains("ok") && manual.contains("cloud_sql.failover"),
        "{manual}"
    );
    s.keys(&["d"]);
    let done = s.wait_for("the result", |screen| screen.contains("── Result"));
    assert!(done.contains("DONE"), "{done}");
    s.keys(&["Escape"]);
    s.wait_for("the failure map again", |screen| {
        !screen.contains("── Result")
    });
    s.keys(&["q"]);
    s.wait_for("the program to exit", |screen| {
        screen.contains("exited with 0")
    });

    let audit = audit_show(&dir);
    for needed in [
        "run_started",
        "cloud-sql-failover → sql",
        "step 3 cloud_sql.failover",
        "/failover",
        "run_finished",
    ] {
        assert!(
            audit.contains(needed),
            "{needed} in the audit log:\n{audit}"
        );
    }
    assert!(audit.contains("done"), "{audit}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quitting_with_a_run_in_flight_asks_again_then_stops_it_and_restores_the_terminal() {
    if !require_or_skip() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let (dir, env) = private_dirs("inflight");
    // In cloudsql-down only a restore repairs the instance: the failover goes through, and
    // the wait for the instance to serve again goes on.
    let cmd = format!(
        "env -u NO_COLOR TERM=xterm-256color {env} {bin} --demo --scenario cloudsql-down; printf 'exited with %s\\n' $?; sleep 30"
    );
    let s = Session::start("inflight", &cmd, 120, 40);
    open_failover_plan(&s);
    s.type_text("sql");
    s.keys(&["Enter"]);
    s.wait_for("the wait step running", |screen| {
        screen.contains("running") && screen.contains("not yet: target.status")
    });
    s.keys(&["q"]);
    s.wait_for("the console asking again", |screen| {
        screen.contains("q again stops it")
    });
    s.keys(&["q"]);
    let after = s.wait_for("the program to exit", |screen| {
        screen.contains("exited with")
    });
    assert!(after.contains("interrupted during step 4"), "{after}");
    assert_eq!(
        s.pane_field("#{alternate_on}"),
        "0",
        "alternate screen left"
    );
    assert_eq!(s.pane_field("#{cursor_flag}"), "1", "cursor shown again");
    let audit = audit_show(&dir);
    assert!(
        audit.contains("step 3 cloud_sql.failover") && audit.contains("run_interrupted"),
        "{audit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
