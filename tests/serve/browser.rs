//! The page in a real browser (Debian's headless Chromium, over
//! WebDriver), with the keyboard where a keyboard user would use it: search
//! for what the agent said, see it marked, play from a few seconds before
//! it, read the dialogue with the hit in view, seek by a line, mark the hit
//! reviewed in the inbox. A screenshot of each view is saved under the
//! target directory.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::webdriver::Browser;
use crate::fixture::fixture;

const ENTER: &str = "\u{E007}";
const WAIT: Duration = Duration::from_secs(20);

fn shot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn player_time(b: &Browser) -> f64 {
    b.execute(
        "return document.getElementById('player').currentTime;",
        vec![],
    )
    .as_f64()
    .unwrap()
}

#[test]
fn search_play_read_and_review_in_chromium() {
    let Some(f) = fixture() else { return };
    let Some(b) = Browser::start("pl") else {
        return;
    };
    let base = format!("http://{}/", f.open);
    b.goto(&base);
    // The page speaks the browser's language.
    b.wait_for("#search-view:not([hidden]) #q", WAIT);
    assert_eq!(b.find("html").attr("lang").as_deref(), Some("pl"));
    assert_eq!(b.find("#search-btn").text(), "Szukaj");

    // An invalid query: the parser's message, pointing at the problem.
    let q = b.find("#q");
    q.send_keys("phone AND (number");
    q.send_keys(ENTER);
    let err = b.wait_for("#query-error:not([hidden])", WAIT);
    assert!(err.text().contains("invalid query"), "{}", err.text());
    assert!(err.text().contains('^'), "{}", err.text());

    // Search from the keyboard: type, Enter.
    q.clear();
    q.send_keys("\"phone number\"");
    q.send_keys(ENTER);
    let hit = b.wait_for(".call .hit", WAIT);
    assert!(
        b.find("#query-error").attr("hidden").is_some(),
        "the error is gone"
    );
    let group = b.find(".call");
    assert_eq!(
        group.attr("data-call-id").as_deref(),
        Some(f.call_id.as_str())
    );
    assert!(
        group.text().contains("anna.k"),
        "agent shown: {}",
        group.text()
    );
    let marked: Vec<String> = hit
        .find_all("mark")
        .iter()
        .map(|m| m.text().to_lowercase())
        .collect();
    assert_eq!(marked, ["phone number"], "highlighted words");
    let clock = hit.find(".clock").text();
    assert!(clock.starts_with("00:00:"), "{clock}");
    let at_ms: f64 = hit.attr("data-at-ms").unwrap().parse().unwrap();
    assert!(
        b.find("#total").text().starts_with('1'),
        "{}",
        b.find("#total").text()
    );
    b.screenshot(&shot_dir().join("search.png"));

    // Play with the keyboard: focus the hit's ▶ link, Enter.
    let play = hit.find("a.play");
    play.send_keys(ENTER);
    b.wait_for("#call-view:not([hidden]) #dialogue li", WAIT);
    let start = (at_ms / 1000.0 - 3.0).max(0.0);
    b.wait_until("the player at the hit", WAIT, |b| {
        let ready = b.execute(
            "return document.getElementById('player').readyState;",
            vec![],
        );
        ready.as_u64().unwrap_or(0) >= 1 && (player_time(b) - start).abs() < 1.5
    });
    let t0 = player_time(&b);
    // The hit's line is marked, holds the marked words, and is in view.
    let line = b.find("#dialogue li.hit-line");
    assert!(
        line.text().to_lowercase().contains("phone number"),
        "{}",
        line.text()
    );
    assert_eq!(line.find_all("mark").len(), 1);
    let in_view = b.execute(
        "const l = arguments[0].getBoundingClientRect(), d = document.getElementById('dialogue').getBoundingClientRect();\
         return l.top >= d.top && l.bottom <= d.bottom;",
        vec![line.as_arg()],
    );
    assert_eq!(
        in_view,
        serde_json::Value::Bool(true),
        "the hit's line is scrolled into view"
    );
    let speakers = b.find("#dialogue").text();
    assert!(
        speakers.contains("agent") && speakers.contains("customer"),
        "{speakers}"
    );
    assert!(
        b.find("#scores").text().contains("support_basics"),
        "scorecard beside the dialogue"
    );
    // The audio plays on from there (headless Chromium has no sound card but plays).
    b.wait_until("the player to advance", WAIT, |b| player_time(b) > t0 + 0.3);
    b.screenshot(&shot_dir().join("call.png"));

    // Clicking a line seeks there; the player marks the line it is in.
    let first = b.find("#dialogue li:first-child button");
    first.click();
    b.wait_until("the seek to the first line", WAIT, |b| player_time(b) < 1.5);
    b.wait_until("the first line marked as current", WAIT, |b| {
        b.find("#dialogue li:first-child")
            .attr("class")
            .unwrap_or_default()
            .contains("current")
    });

    // The inbox: the high-severity hit first; mark it reviewed.
    b.find("#tab-inbox").click();
    let item = b.wait_for("#inbox-view:not([hidden]) .inbox-item", WAIT);
    assert!(item.text().contains("phone_talk"), "{}", item.text());
    let button = item.find("button.review");
    let was = button.attr("aria-pressed").unwrap();
    button.click();
    // The page replaces the item once the mark is stored: read it in one
    // script call, so no element handle can go stale between find and read.
    b.wait_until("the review mark", WAIT, |b| {
        let now = b.execute(
            "const e = document.querySelector('#inbox .inbox-item:first-child button.review');\
             return e ? e.getAttribute('aria-pressed') : null;",
            vec![],
        );
        now.as_str().is_some_and(|v| v != was)
    });
    if was == "false" {
        let text = b.find("#inbox .inbox-item:first-child .reviewed").text();
        assert!(text.contains(&callsift_os_user()), "{text}");
    }
    b.screenshot(&shot_dir().join("inbox.png"));
    // The mark is stored in OUT, not in the page.
    let marks = std::fs::read_to_string(f.out.join("reviews.jsonl")).unwrap();
    assert!(marks.contains("phone_talk"), "{marks}");
}

/// The name serve uses without a users file (the OS user).
fn callsift_os_user() -> String {
    callsift::audit::os_user()
}
