//! One output folder for every test here, made once: `callsift run` with
//! the trained `tiny.en` over the demo's English call (stereo 8 kHz µ-law,
//! its sidecar gives the agent and start), with a watchlist that fires on
//! "phone number" and a scorecard; and two `callsift serve` processes over
//! it: `open` (loopback, no users file) and `locked` (with a users file,
//! bound to every address).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::common::{bin, require, tiny_en_model};

pub const PIPELINE: &str = r#"
[[watchlist]]
name = "phone_talk"
severity = "high"
speaker = "any"
phrases = ["phone number"]

[[watchlist]]
name = "greeting_seen"
severity = "low"
speaker = "agent"
phrases = ["hello"]

[[scorecard]]
name = "support_basics"

[[scorecard.criterion]]
section = "greeting"
name = "greets"
weight = 1
speaker = "agent"
any = ["hello"]

[[scorecard.criterion]]
section = "identify"
name = "asks_for_number"
weight = 1
speaker = "agent"
any = ["phone number"]
"#;

/// A reviewer and a viewer in the locked server's users file.
pub const REVIEWER: (&str, &str) = ("rita", "correct horse battery");
pub const VIEWER: (&str, &str) = ("victor", "staple of the viewer");
/// Only the rate-limit test signs in as her (it locks her out).
pub const LIMITED: (&str, &str) = ("lucy", "lucy's long password");

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub out: PathBuf,
    pub model: PathBuf,
    /// The call id of the demo call.
    pub call_id: String,
    pub open: String,
    pub locked: String,
}

impl Fixture {
    pub fn pipeline(&self) -> PathBuf {
        self.dir.path().join("pipeline.toml")
    }
}

static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();

/// The shared output and servers; `None` (skip) without the model outside CI.
pub fn fixture() -> Option<&'static Fixture> {
    FIXTURE.get_or_init(make).as_ref()
}

fn make() -> Option<Fixture> {
    let model = require("tiny.en model", tiny_en_model())?;
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    std::fs::create_dir(&recordings).unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    for name in ["call-en-support.wav", "call-en-support.wav.json"] {
        std::fs::copy(samples.join(name), recordings.join(name)).unwrap();
    }
    std::fs::write(dir.path().join("pipeline.toml"), PIPELINE).unwrap();
    let out = dir.path().join("out");
    let run = bin()
        .args([
            "run",
            "--json",
            "--min-age",
            "0",
            "--language",
            "en",
            "--input",
        ])
        .arg(&recordings)
        .arg("--out")
        .arg(&out)
        .arg("--model")
        .arg(&model)
        .arg("--pipeline")
        .arg(dir.path().join("pipeline.toml"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let call_id = report["inputs"][0]["call_id"]
        .as_str()
        .expect("the run report names the call")
        .to_string();
    let users = dir.path().join("users.toml");
    for (name, password, role) in [
        (REVIEWER.0, REVIEWER.1, "reviewer"),
        (VIEWER.0, VIEWER.1, "viewer"),
        (LIMITED.0, LIMITED.1, "viewer"),
    ] {
        bin()
            .args(["users", "add", name, "--role", role, "--users"])
            .arg(&users)
            .write_stdin(format!("{password}\n"))
            .assert()
            .success();
    }
    let open = start_serve(&out, "127.0.0.1:0", None);
    let locked = start_serve(&out, "0.0.0.0:0", Some(&users));
    Some(Fixture {
        dir,
        out,
        model,
        call_id,
        open,
        locked,
    })
}

/// Starts `callsift serve` and returns `127.0.0.1:PORT` once it listens.
///
/// The server must not outlive the tests, and statics are never dropped:
/// it is spawned by a thread that lives as long as the test process, with
/// the parent-death signal set, so the kernel stops it when the tests end.
pub fn start_serve(out: &Path, bind: &str, users: Option<&Path>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callsift"));
    cmd.args(["serve", "--bind", bind, "--out"]).arg(out);
    if let Some(users) = users {
        cmd.arg("--users").arg(users);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn callsift serve");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let mut log = String::new();
        let addr = loop {
            line.clear();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                break None;
            }
            log.push_str(&line);
            if let Some(rest) = line.split("http://").nth(1) {
                break rest.split('/').next().map(str::to_string);
            }
        };
        tx.send(addr.ok_or(log)).unwrap();
        // Keep reading (and echoing) the server's log so it never blocks on a full pipe.
        let mut rest = String::new();
        while stderr.read_line(&mut rest).unwrap_or(0) > 0 {
            let _ = std::io::stderr().write_all(rest.as_bytes());
            rest.clear();
        }
        let _ = child.wait();
        loop {
            std::thread::park();
        }
    });
    let addr = rx
        .recv()
        .unwrap()
        .unwrap_or_else(|log| panic!("callsift serve did not start:\n{log}"));
    // Bound to every address: talk to it over loopback.
    addr.replace("0.0.0.0", "127.0.0.1")
}

/// Signs in on the locked server; returns the cookie and CSRF token.
pub fn sign_in(addr: &str, user: &str, password: &str) -> (String, String) {
    let body = serde_json::json!({ "user": user, "password": password }).to_string();
    let a = crate::http::send(
        addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(a.status, 200, "sign-in of {user}: {}", a.text());
    let cookie = a.cookie().expect("a session cookie");
    (cookie, a.json()["csrf"].as_str().unwrap().to_string())
}

/// A session on the open server (no users file): cookie and CSRF token.
pub fn local_session(addr: &str) -> (String, String) {
    let a = crate::http::send(addr, "GET", "/api/session", &[], b"");
    assert_eq!(a.status, 200, "{}", a.text());
    (
        a.cookie().expect("a session cookie"),
        a.json()["csrf"].as_str().unwrap().to_string(),
    )
}
