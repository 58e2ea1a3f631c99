//! A small blocking W3C WebDriver client for the browser tests of
//! `callsift serve`: it starts Debian's `chromedriver` with a headless
//! Chromium and speaks the WebDriver protocol to it over `ureq`, so that a
//! test can load a page, type, click, run scripts and take screenshots.
//!
//! Everything here is test code: a driver error is a panic carrying the
//! driver's own message and the path of chromedriver's log.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key W3C gives an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How often `wait_for` and `wait_until` look again.
const POLL: Duration = Duration::from_millis(50);

/// A chromedriver process with one headless Chromium session. Dropping it
/// ends the session (which quits Chromium) and kills chromedriver.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    log: PathBuf,
}

/// A reference to an element of the page the browser shows.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

/// An error answer from the driver (or a failure to reach it).
#[derive(Debug)]
struct DriverError {
    /// The W3C error code, e.g. `no such element`; empty for transport errors.
    error: String,
    message: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium
    /// session whose UI language and Accept-Language header are `lang`.
    /// `None` (a skip) locally when chromium or chromedriver is missing; a
    /// panic on CI, via [`super::require`].
    pub fn start(lang: &str) -> Option<Browser> {
        let chromium = super::require(
            "chromium (apt-get install chromium)",
            find_in_path("chromium"),
        )?;
        let chromedriver = super::require(
            "chromedriver (apt-get install chromium-driver)",
            find_in_path("chromedriver"),
        )?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // The driver is on loopback: never through an HTTP_PROXY from the environment.
            .proxy(None)
            // Page loads and scripts have their own driver-side timeouts;
            // this only stops a hung driver from hanging the test.
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let (driver, base, log) = spawn_driver(&chromedriver, &agent);
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            agent,
            log,
        };
        let caps = capabilities(&chromium, lang);
        let created = browser
            .request("POST", "/session", Some(caps))
            .unwrap_or_else(|e| browser.fail("POST /session", &e));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {created}"))
            .to_owned();
        Some(browser)
    }

    /// Loads `url` and waits for it to finish loading.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url }));
    }

    /// The first element matching the CSS selector; panics naming the
    /// selector when there is none.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.try_find("", css)
            .unwrap_or_else(|e| self.fail(&format!("find {css:?}"), &e))
    }

    /// Every element matching the CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self.cmd("POST", "/elements", by_css(css));
        self.elements(&found)
    }

    /// Polls for an element matching `css`; on timeout panics with the
    /// selector and the start of the page source.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Element<'_> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.try_find("", css) {
                Ok(e) => return e,
                Err(e) if e.error == "no such element" && Instant::now() < deadline => {
                    std::thread::sleep(POLL)
                }
                Err(e) if e.error == "no such element" => panic!(
                    "no element matches {css:?} after {timeout:?}; page source starts:\n{}",
                    self.source_excerpt()
                ),
                Err(e) => self.fail(&format!("find {css:?}"), &e),
            }
        }
    }

    /// Polls `f` until it returns true; on timeout panics with `what` and
    /// the start of the page source.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut f: impl FnMut(&Browser) -> bool) {
        let deadline = Instant::now() + timeout;
        while !f(self) {
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting until {what}; page source starts:\n{}",
                    self.source_excerpt()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Runs `script` as a function body in the page (`arguments[i]` are
    /// `args`) and returns what it returns; a returned promise is awaited.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
    }

    /// Types `keys` into whatever has the focus (`document.activeElement`)
    /// as real key presses, so Tab moves the focus and Enter activates;
    /// `"\u{E007}"` is Enter and `"\u{E004}"` Tab, as in W3C WebDriver.
    pub fn send_keys_active(&self, keys: &str) {
        let mut actions = Vec::new();
        for c in keys.chars() {
            actions.push(json!({ "type": "keyDown", "value": c.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        self.cmd(
            "POST",
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        );
        self.cmd_no_body("DELETE", "/actions");
    }

    /// Writes a PNG screenshot of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let b64 = self.cmd_no_body("GET", "/screenshot");
        let b64 = b64
            .as_str()
            .unwrap_or_else(|| panic!("screenshot is not a string"));
        let png = base64_decode(b64);
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    pub fn current_url(&self) -> String {
        string(self.cmd_no_body("GET", "/url"))
    }

    pub fn title(&self) -> String {
        string(self.cmd_no_body("GET", "/title"))
    }

    /// chromedriver's log (its stdout and stderr), kept after a panic.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The first 2,000 characters of the page source, for failure messages.
    fn source_excerpt(&self) -> String {
        match self.request("GET", &self.session_path("/source"), None) {
            Ok(Value::String(s)) => s.chars().take(2000).collect(),
            Ok(v) => v.to_string(),
            Err(e) => format!("(cannot get the page source: {})", e.message),
        }
    }

    fn try_find(&self, from: &str, css: &str) -> Result<Element<'_>, DriverError> {
        let found = self.request(
            "POST",
            &self.session_path(&format!("{from}/element")),
            Some(by_css(css)),
        )?;
        Ok(self.element(&found))
    }

    fn element(&self, v: &Value) -> Element<'_> {
        let id = v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {v}"));
        Element {
            browser: self,
            id: id.to_owned(),
        }
    }

    fn elements(&self, v: &Value) -> Vec<Element<'_>> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a list of elements: {v}"))
            .iter()
            .map(|e| self.element(e))
            .collect()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// A session command with a JSON body; panics on a driver error.
    fn cmd(&self, method: &str, rest: &str, body: Value) -> Value {
        let path = self.session_path(rest);
        self.request(method, &path, Some(body))
            .unwrap_or_else(|e| self.fail(&format!("{method} {path}"), &e))
    }

    /// A session command without a body (GET, DELETE); panics on a driver error.
    fn cmd_no_body(&self, method: &str, rest: &str) -> Value {
        let path = self.session_path(rest);
        self.request(method, &path, None)
            .unwrap_or_else(|e| self.fail(&format!("{method} {path}"), &e))
    }

    fn fail(&self, what: &str, e: &DriverError) -> ! {
        panic!(
            "webdriver {what}: {}: {} (chromedriver log: {})",
            e.error,
            e.message,
            self.log.display()
        )
    }

    /// One WebDriver request; `Ok` with the answer's `value`, `Err` with the
    /// driver's error code and message.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, DriverError> {
        driver_request(&self.agent, &self.base, method, path, body)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Ending the session quits Chromium; chromedriver does not
            // when it is killed, so this comes first.
            let _ = self.request("DELETE", &self.session_path(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // The log is kept only when a panic may have pointed to it.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

impl<'a> Element<'a> {
    pub fn click(&self) {
        self.cmd("POST", "/click", json!({}));
    }

    /// The rendered (visible) text.
    pub fn text(&self) -> String {
        string(self.get("/text"))
    }

    /// Types `s` into the element (after focusing it); W3C key codes such as
    /// `"\u{E007}"` (Enter) work here too.
    pub fn send_keys(&self, s: &str) {
        self.cmd("POST", "/value", json!({ "text": s }));
    }

    /// The HTML attribute, `None` when absent.
    pub fn attr(&self, name: &str) -> Option<String> {
        match self.get(&format!("/attribute/{name}")) {
            Value::Null => None,
            Value::String(s) => Some(s),
            v => Some(v.to_string()),
        }
    }

    /// The DOM property (e.g. `value`, `checked`, `currentTime`).
    pub fn prop(&self, name: &str) -> Value {
        self.get(&format!("/property/{name}"))
    }

    /// The first descendant matching `css`; panics naming the selector when
    /// there is none.
    pub fn find(&self, css: &str) -> Element<'a> {
        self.browser
            .try_find(&format!("/element/{}", self.id), css)
            .unwrap_or_else(|e| {
                self.browser
                    .fail(&format!("find {css:?} in an element"), &e)
            })
    }

    pub fn find_all(&self, css: &str) -> Vec<Element<'a>> {
        let found = self.cmd("POST", "/elements", by_css(css));
        self.browser.elements(&found)
    }

    /// Empties an input or textarea.
    pub fn clear(&self) {
        self.cmd("POST", "/clear", json!({}));
    }

    /// This element as a script argument for [`Browser::execute`].
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn cmd(&self, method: &str, rest: &str, body: Value) -> Value {
        self.browser
            .cmd(method, &format!("/element/{}{rest}", self.id), body)
    }

    fn get(&self, rest: &str) -> Value {
        self.browser
            .cmd_no_body("GET", &format!("/element/{}{rest}", self.id))
    }
}

/// The session capabilities: headless Chromium, no sandbox (the tests run
/// as root on CI), autoplay allowed, `lang` as UI and Accept-Language.
fn capabilities(chromium: &Path, lang: &str) -> Value {
    json!({
        "capabilities": {
            "alwaysMatch": {
                "browserName": "chrome",
                // Fail within the ureq timeout rather than chromedriver's 300 s.
                "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-gpu",
                        // Containers often give /dev/shm only 64 MB, too
                        // little for Chromium's shared memory.
                        "--disable-dev-shm-usage",
                        // The window; headless=new leaves a 1280x757 viewport.
                        "--window-size=1280,900",
                        "--autoplay-policy=no-user-gesture-required",
                        format!("--lang={lang}"),
                    ],
                    "prefs": { "intl.accept_languages": lang },
                },
            },
        },
    })
}

/// Starts chromedriver on a free loopback port and waits until it answers
/// `/status`; returns the child, its base URL and its log file. Retries on
/// another port if the one picked was taken in the meantime.
fn spawn_driver(chromedriver: &Path, agent: &ureq::Agent) -> (Child, String, PathBuf) {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log = std::env::temp_dir().join(format!(
        "callsift-chromedriver-{}-{n}.log",
        std::process::id()
    ));
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port();
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot reopen {}: {e}", log.display()));
        let mut child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                last = format!("chromedriver exited with {status}");
                break;
            }
            match driver_request(agent, &base, "GET", "/status", None) {
                Ok(v) if v["ready"] == true => return (child, base, log),
                Ok(v) => last = v.to_string(),
                Err(e) => last = e.message,
            }
            std::thread::sleep(POLL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!(
        "chromedriver did not come up: {last} (log: {})",
        log.display()
    )
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

fn driver_request(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, DriverError> {
    let url = format!("{base}{path}");
    let transport = |e: ureq::Error| DriverError {
        error: String::new(),
        message: format!("{method} {url}: {e}"),
    };
    let mut response = match (method, body) {
        ("GET", _) => agent.get(&url).call(),
        ("DELETE", _) => agent.delete(&url).call(),
        (_, body) => agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.unwrap_or_else(|| json!({})).to_string()),
    }
    .map_err(transport)?;
    let ok = response.status().is_success();
    let text = response
        .body_mut()
        .with_config()
        // Screenshots come as base64 in the JSON: allow more than ureq's 10 MB.
        .limit(256 << 20)
        .read_to_string()
        .map_err(transport)?;
    let mut parsed: Value = serde_json::from_str(&text).map_err(|e| DriverError {
        error: String::new(),
        message: format!("{method} {url}: not JSON ({e}): {text}"),
    })?;
    let value = parsed["value"].take();
    if ok {
        return Ok(value);
    }
    Err(DriverError {
        error: value["error"]
            .as_str()
            .unwrap_or("unknown error")
            .to_owned(),
        message: value["message"]
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned),
    })
}

fn by_css(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

fn string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        v => panic!("expected a string from the driver, got {v}"),
    }
}

/// The first executable called `name` on PATH.
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64_decode(s: &str) -> Vec<u8> {
    let sextet = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c:?}"),
    };
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(sextet)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            acc |= u32::from(*d) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}
