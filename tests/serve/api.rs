//! The HTTP API: search, the call view, audio with Range, the inbox, and
//! the security rules (sign-in, rate limit, CSRF, roles, Host, headers,
//! call ids that cannot name paths, the audit trail).

use std::time::{Duration, Instant};

use crate::common::bin;
use crate::fixture::{LIMITED, REVIEWER, VIEWER, fixture, local_session, sign_in};
use crate::http::{Answer, enc, send};

fn get(addr: &str, path: &str, cookie: &str) -> Answer {
    send(addr, "GET", path, &[("Cookie", cookie)], b"")
}

fn post_json(
    addr: &str,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: serde_json::Value,
) -> Answer {
    let mut headers = vec![("Cookie", cookie), ("Content-Type", "application/json")];
    if let Some(csrf) = csrf {
        headers.push(("X-CSRF-Token", csrf));
    }
    send(addr, "POST", path, &headers, body.to_string().as_bytes())
}

/// The audit trail's entries, parsed.
fn audit_lines(out: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

#[test]
fn page_headers_and_language() {
    let Some(f) = fixture() else { return };
    let en = send(&f.open, "GET", "/", &[], b"");
    assert_eq!(en.status, 200);
    assert!(en.text().contains("<html lang=\"en\">"), "{}", en.text());
    let csp = en.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(en.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(en.header("x-frame-options"), Some("DENY"));
    let pl = send(
        &f.open,
        "GET",
        "/",
        &[("Accept-Language", "pl-PL,pl;q=0.9,en;q=0.5")],
        b"",
    );
    assert!(pl.text().contains("<html lang=\"pl\">"));
    assert!(pl.text().contains("Szukaj"), "the Polish page says Szukaj");
    let js = send(&f.open, "GET", "/app.js", &[], b"");
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
}

#[test]
fn search_finds_the_phrase_at_its_second() {
    let Some(f) = fixture() else { return };
    let (cookie, _) = local_session(&f.open);
    let a = get(
        &f.open,
        &format!("/api/search?q={}", enc("\"phone number\"")),
        &cookie,
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let r = a.json();
    assert!(r["total"].as_u64().unwrap() >= 1, "{r}");
    let hit = &r["hits"][0];
    assert_eq!(hit["call_id"], f.call_id.as_str());
    assert_eq!(hit["speaker"], "agent");
    // "Please enter your phone number" is said 7–12 s into the call.
    let at = hit["at_ms"].as_u64().unwrap();
    assert!((7_000..=12_500).contains(&at), "hit at {at} ms");
    let marked: Vec<String> = hit["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[1] == true)
        .map(|p| p[0].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(marked.join(" "), "phone number", "{hit}");
    assert_eq!(hit["agent_id"], "anna.k");
    // Filters are the CLI's: the customer never said it.
    let none = get(
        &f.open,
        &format!("/api/search?q={}&speaker=customer", enc("\"phone number\"")),
        &cookie,
    );
    assert_eq!(none.json()["total"], 0, "{}", none.text());
}

#[test]
fn bad_queries_are_pointed_at() {
    let Some(f) = fixture() else { return };
    let (cookie, _) = local_session(&f.open);
    let a = get(
        &f.open,
        &format!("/api/search?q={}", enc("phone AND (number")),
        &cookie,
    );
    assert_eq!(a.status, 400, "{}", a.text());
    let e = a.json();
    assert!(
        e["error"].as_str().unwrap().starts_with("invalid query"),
        "{e}"
    );
    assert!(e["position"].as_u64().is_some(), "{e}");
    let empty = get(&f.open, "/api/search?q=", &cookie);
    assert_eq!(empty.status, 400);
    let bad_date = get(&f.open, "/api/search?q=phone&from=yesterday", &cookie);
    assert_eq!(bad_date.status, 400, "{}", bad_date.text());
    assert!(
        bad_date.json()["error"]
            .as_str()
            .unwrap()
            .contains("yesterday")
    );
}

#[test]
fn unknown_ids_and_path_tricks_are_refused() {
    let Some(f) = fixture() else { return };
    let (cookie, _) = local_session(&f.open);
    let unknown = get(&f.open, "/api/calls/ffffffffffffffff", &cookie);
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.json()["error"]
            .as_str()
            .unwrap()
            .contains("ffffffffffffffff")
    );
    for path in [
        "/api/calls/..%2F..%2Fetc%2Fpasswd",
        "/api/calls/..%2F..%2Fetc%2Fpasswd/audio",
        "/api/calls/%2Fetc%2Fpasswd/audio",
        "/api/calls/zz/audio",
    ] {
        let a = get(&f.open, path, &cookie);
        assert_eq!(a.status, 400, "{path}: {}", a.text());
    }
    for path in [
        "/api/calls/../../etc/passwd",
        "/../../../../etc/passwd",
        "/app.js/../../Cargo.toml",
        "/transcripts/x.json",
    ] {
        let a = get(&f.open, path, &cookie);
        assert_eq!(a.status, 404, "{path}: {}", a.text());
        assert!(!a.text().contains("root:"), "{path}");
    }
}

#[test]
fn transcoded_audio_answers_ranges() {
    let Some(f) = fixture() else { return };
    let (cookie, _) = local_session(&f.open);
    let path = format!("/api/calls/{}/audio", f.call_id);
    let full = get(&f.open, &path, &cookie);
    assert_eq!(full.status, 200);
    assert_eq!(full.header("content-type"), Some("audio/wav"));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(full.header("cache-control"), Some("no-store"));
    let wav = &full.body;
    // µ-law in, 16-bit PCM out: same rate, same channels, ~26 s.
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([wav[20], wav[21]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "stereo");
    assert_eq!(
        u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]),
        8000
    );
    assert_eq!(u16::from_le_bytes([wav[34], wav[35]]), 16);
    let len = wav.len();
    assert!(len > 8000 * 2 * 2 * 20, "{len} bytes");
    let part = send(
        &f.open,
        "GET",
        &path,
        &[("Cookie", &cookie), ("Range", "bytes=100-199")],
        b"",
    );
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{len}").as_str())
    );
    assert_eq!(part.body, wav[100..200]);
    let tail = send(
        &f.open,
        "GET",
        &path,
        &[("Cookie", &cookie), ("Range", "bytes=-10")],
        b"",
    );
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, wav[len - 10..]);
    let from = send(
        &f.open,
        "GET",
        &path,
        &[("Cookie", &cookie), ("Range", "bytes=1000-")],
        b"",
    );
    assert_eq!(from.status, 206);
    assert_eq!(from.body, wav[1000..]);
    let past = send(
        &f.open,
        "GET",
        &path,
        &[("Cookie", &cookie), ("Range", &format!("bytes={len}-"))],
        b"",
    );
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
}

#[test]
fn call_view_has_dialogue_marks_rules_and_scores() {
    let Some(f) = fixture() else { return };
    let (cookie, _) = local_session(&f.open);
    let a = get(
        &f.open,
        &format!("/api/calls/{}?q={}", f.call_id, enc("\"phone number\"")),
        &cookie,
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let c = a.json();
    let lines = c["lines"].as_array().unwrap();
    assert!(lines.len() >= 4, "{c}");
    let speakers: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["speaker"].as_str().unwrap())
        .collect();
    assert_eq!(
        speakers.into_iter().collect::<Vec<_>>(),
        ["agent", "customer"]
    );
    let marked: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l.get("parts").is_some()).collect();
    assert_eq!(marked.len(), 1, "one line holds the phrase: {c}");
    assert!(
        c["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["rule"] == "phone_talk")
    );
    let card = &c["scorecards"][0];
    assert_eq!(card["scorecard"], "support_basics");
    assert_eq!(card["criteria"].as_array().unwrap().len(), 2);
    assert!(c["audio_problem"].is_null(), "{c}");
}

#[test]
fn serve_beyond_loopback_needs_users() {
    let Some(f) = fixture() else { return };
    let out = bin()
        .args(["serve", "--bind", "0.0.0.0:0", "--out"])
        .arg(&f.out)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("--users"), "{err}");
    let missing = bin()
        .args(["serve", "--out", "/nonexistent/callsift-out"])
        .assert()
        .code(1);
    assert!(
        String::from_utf8_lossy(&missing.get_output().stderr).contains("/nonexistent/callsift-out")
    );
}

#[test]
fn the_locked_server_needs_a_sign_in() {
    let Some(f) = fixture() else { return };
    let q = format!("/api/search?q={}", enc("phone"));
    assert_eq!(send(&f.locked, "GET", &q, &[], b"").status, 401);
    assert_eq!(
        send(
            &f.locked,
            "GET",
            &format!("/api/calls/{}/audio", f.call_id),
            &[],
            b""
        )
        .status,
        401
    );
    let s = send(&f.locked, "GET", "/api/session", &[], b"");
    assert_eq!(s.status, 401);
    assert_eq!(s.json()["login_required"], true);
    assert!(s.cookie().is_none(), "no session without a sign-in");
    // The page itself (no data in it) loads, to show the sign-in form.
    assert_eq!(send(&f.locked, "GET", "/", &[], b"").status, 200);
    let wrong = post_json(
        &f.locked,
        "/api/login",
        "",
        None,
        serde_json::json!({ "user": REVIEWER.0, "password": "not it" }),
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.cookie().is_none());
    let login = send(
        &f.locked,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        serde_json::json!({ "user": REVIEWER.0, "password": REVIEWER.1 })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(login.status, 200, "{}", login.text());
    let set = login.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(set.contains(attr), "{set}");
    }
    let cookie = login.cookie().unwrap();
    let found = get(&f.locked, &q, &cookie);
    assert_eq!(found.status, 200, "{}", found.text());
    // Signed out, the cookie is worth nothing.
    let csrf = login.json()["csrf"].as_str().unwrap().to_string();
    let out = post_json(
        &f.locked,
        "/api/logout",
        &cookie,
        Some(&csrf),
        serde_json::json!({}),
    );
    assert_eq!(out.status, 204, "{}", out.text());
    assert_eq!(get(&f.locked, &q, &cookie).status, 401);
}

#[test]
fn wrong_passwords_are_rate_limited() {
    let Some(f) = fixture() else { return };
    let try_login = |password: &str| {
        post_json(
            &f.locked,
            "/api/login",
            "",
            None,
            serde_json::json!({ "user": LIMITED.0, "password": password }),
        )
    };
    for i in 0..5 {
        assert_eq!(try_login(&format!("guess {i}")).status, 401, "try {i}");
    }
    // The sixth try is refused before the password is looked at, even the right one.
    let limited = try_login(LIMITED.1);
    assert_eq!(limited.status, 429, "{}", limited.text());
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 15 * 60, "{wait}");
    let logged = audit_lines(&f.out);
    let failures = logged
        .iter()
        .filter(|l| l["command"] == "serve:login-failed" && l["user"] == LIMITED.0)
        .count();
    assert_eq!(failures, 5);
}

#[test]
fn csrf_origin_roles_and_host_are_checked() {
    let Some(f) = fixture() else { return };
    let (cookie, csrf) = sign_in(&f.locked, REVIEWER.0, REVIEWER.1);
    let inbox = get(&f.locked, "/api/inbox?limit=100", &cookie).json();
    let item = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "greeting_seen")
        .unwrap_or_else(|| panic!("the low-severity hello hit: {inbox}"));
    let key = item["key"].as_str().unwrap();
    let body = serde_json::json!({ "key": key, "reviewed": true });
    let no_token = post_json(&f.locked, "/api/inbox/review", &cookie, None, body.clone());
    assert_eq!(no_token.status, 403, "{}", no_token.text());
    let wrong = post_json(
        &f.locked,
        "/api/inbox/review",
        &cookie,
        Some("00ff"),
        body.clone(),
    );
    assert_eq!(wrong.status, 403);
    let foreign = send(
        &f.locked,
        "POST",
        "/api/inbox/review",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/json"),
            ("X-CSRF-Token", &csrf),
            ("Origin", "http://evil.example"),
        ],
        body.to_string().as_bytes(),
    );
    assert_eq!(foreign.status, 403, "{}", foreign.text());
    let ok = post_json(
        &f.locked,
        "/api/inbox/review",
        &cookie,
        Some(&csrf),
        body.clone(),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["user"], REVIEWER.0);
    let marks = std::fs::read_to_string(f.out.join("reviews.jsonl")).unwrap();
    assert!(
        marks
            .lines()
            .any(|l| l.contains(key) && l.contains(REVIEWER.0)),
        "{marks}"
    );
    // The mark is in the inbox for everyone, and survives: it is in OUT.
    let again = get(&f.locked, "/api/inbox?limit=100", &cookie).json();
    let marked = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap();
    assert_eq!(marked["review"]["user"], REVIEWER.0);
    let unknown = post_json(
        &f.locked,
        "/api/inbox/review",
        &cookie,
        Some(&csrf),
        serde_json::json!({ "key": "nope:nothing:-:0" }),
    );
    assert_eq!(unknown.status, 404);
    // A viewer may look, not mark.
    let (vcookie, vcsrf) = sign_in(&f.locked, VIEWER.0, VIEWER.1);
    assert_eq!(get(&f.locked, "/api/inbox", &vcookie).status, 200);
    let refused = post_json(&f.locked, "/api/inbox/review", &vcookie, Some(&vcsrf), body);
    assert_eq!(refused.status, 403, "{}", refused.text());
    // Without a users file, only this machine's names of the server are answered
    // (a page elsewhere cannot reach it through a rebound DNS name).
    let port = f.open.rsplit(':').next().unwrap();
    let rebound = send(
        &f.open,
        "GET",
        "/api/session",
        &[("Host", &format!("evil.example:{port}"))],
        b"",
    );
    assert_eq!(rebound.status, 421, "{}", rebound.text());
}

#[test]
fn searches_playbacks_and_reviews_are_audited() {
    let Some(f) = fixture() else { return };
    let (cookie, csrf) = sign_in(&f.locked, REVIEWER.0, REVIEWER.1);
    let q = "\"area code\"";
    assert_eq!(
        get(&f.locked, &format!("/api/search?q={}", enc(q)), &cookie).status,
        200
    );
    let audio = send(
        &f.locked,
        "GET",
        &format!("/api/calls/{}/audio", f.call_id),
        &[("Cookie", &cookie), ("Range", "bytes=0-1023")],
        b"",
    );
    assert_eq!(audio.status, 206);
    let inbox = get(&f.locked, "/api/inbox?limit=100", &cookie).json();
    let key = inbox["items"][0]["key"].as_str().unwrap().to_string();
    let current = !inbox["items"][0]["review"].is_null();
    let r = post_json(
        &f.locked,
        "/api/inbox/review",
        &cookie,
        Some(&csrf),
        serde_json::json!({ "key": key, "reviewed": !current }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = audit_lines(&f.out);
    let by_rita = |command: &str| {
        lines
            .iter()
            .any(|l| l["command"] == command && l["user"] == REVIEWER.0)
    };
    assert!(
        lines
            .iter()
            .any(|l| l["command"] == "serve:search" && l["user"] == REVIEWER.0 && l["query"] == q),
        "{lines:?}"
    );
    assert!(by_rita("serve:play"), "{lines:?}");
    assert!(by_rita("serve:review"), "{lines:?}");
    assert!(by_rita("serve:login"), "{lines:?}");
}

/// A run that commits while serve runs is seen without a restart; a plain
/// PCM WAV is passed through as it is; a recording moved away is a clear
/// message, never a server error.
#[test]
fn a_new_run_is_seen_and_a_moved_recording_is_explained() {
    let Some(f) = fixture() else { return };
    let Some(prompts) = crate::common::shared_prompts() else {
        return;
    };
    let later = f.dir.path().join("later");
    std::fs::create_dir(&later).unwrap();
    let rec = later.join("hold.wav");
    std::fs::copy(prompts.join("en/priv-introsaved.wav"), &rec).unwrap();
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
        .arg(&later)
        .arg("--out")
        .arg(&f.out)
        .arg("--model")
        .arg(&f.model)
        .arg("--pipeline")
        .arg(f.pipeline())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let id = report["inputs"][0]["call_id"].as_str().unwrap().to_string();
    let (cookie, _) = local_session(&f.open);
    let q = format!("/api/search?q={}", enc("\"attempt to connect\""));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = get(&f.open, &q, &cookie).json();
        if r["hits"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["call_id"] == id.as_str()))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the new call is not found: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let audio = get(&f.open, &format!("/api/calls/{id}/audio"), &cookie);
    assert_eq!(audio.status, 200);
    assert_eq!(
        audio.body,
        std::fs::read(&rec).unwrap(),
        "PCM WAV passed through"
    );
    std::fs::rename(&rec, later.join("moved.wav")).unwrap();
    let call = get(&f.open, &format!("/api/calls/{id}"), &cookie);
    assert_eq!(call.status, 200);
    let problem = call.json()["audio_problem"].as_str().unwrap().to_string();
    assert!(
        problem.contains("hold.wav") && problem.contains("no longer there"),
        "{problem}"
    );
    let gone = get(&f.open, &format!("/api/calls/{id}/audio"), &cookie);
    assert_eq!(gone.status, 404);
    assert!(
        gone.json()["error"]
            .as_str()
            .unwrap()
            .contains("no longer there")
    );
}

/// The users file is read again when it changes: a user added while serve
/// runs can sign in; one removed is signed out at the next request.
#[test]
fn users_added_and_removed_while_serving() {
    let Some(f) = fixture() else { return };
    let users = f.dir.path().join("users.toml");
    let name = "tom";
    let password = "tom's password here";
    bin()
        .args(["users", "add", name, "--role", "reviewer", "--users"])
        .arg(&users)
        .write_stdin(format!("{password}\n"))
        .assert()
        .success();
    let (cookie, _) = sign_in(&f.locked, name, password);
    let q = format!("/api/search?q={}", enc("phone"));
    assert_eq!(get(&f.locked, &q, &cookie).status, 200);
    bin()
        .args(["users", "remove", name, "--users"])
        .arg(&users)
        .assert()
        .success();
    assert_eq!(
        get(&f.locked, &q, &cookie).status,
        401,
        "a removed user is signed out"
    );
}
