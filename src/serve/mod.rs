//! `callsift serve`: the search page, playback at the hit and the hits
//! inbox over an output folder, while nightly runs write it. axum and
//! tokio live only here (the batch pipeline stays free of async); every
//! answer comes from the library calls `search`, `show` and `report` make
//! ([`crate::index::SearchIndex`], [`crate::show`], [`crate::tables`]),
//! run on tokio's blocking pool.
//!
//! - `mod.rs`: settings, the shared state, the router, the security layer
//!   (headers, sessions, CSRF, Host check) and the server's life;
//! - `api`: the JSON API and the audio stream;
//! - `page`: the embedded page (HTML, CSS, script) and its texts per language;
//! - `auth`: sessions, CSRF tokens, the login rate limit (no HTTP in it);
//! - `audio`: recordings as browsers play them, Range requests (no HTTP in it).

pub mod api;
pub mod audio;
pub mod auth;
pub mod page;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::error::{Error, Result};
use crate::index::SearchIndex;
use crate::users::{Role, Users};
use auth::{LoginLimiter, Session, Sessions};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "callsift_session";
/// The header a state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Transcoded recordings kept in memory, in all.
const TRANSCODE_CACHE_BYTES: u64 = 512 << 20;

/// `serve`'s flags, checked.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub out: PathBuf,
    pub bind: SocketAddr,
    pub users: Option<PathBuf>,
}

impl ServeSettings {
    /// Checks the flags: the output folder exists, the address parses, and
    /// an address other than loopback comes with a users file.
    pub fn resolve(out: &Path, bind: &str, users: Option<&Path>) -> Result<Self> {
        if !out.is_dir() {
            return Err(Error::Other(format!(
                "--out {}: no such output folder",
                out.display()
            )));
        }
        let bind: SocketAddr = bind.parse().map_err(|e| {
            Error::Usage(format!(
                "--bind {bind}: not an address and port such as 127.0.0.1:8080 ({e})"
            ))
        })?;
        if !bind.ip().is_loopback() && users.is_none() {
            return Err(Error::Usage(format!(
                "--bind {bind}: serving beyond this machine needs --users FILE (recordings and \
                 transcripts are personal data); make one with `callsift users add NAME --users FILE`"
            )));
        }
        Ok(ServeSettings {
            out: out.to_path_buf(),
            bind,
            users: users.map(Path::to_path_buf),
        })
    }
}

/// Who may sign in: the users file, re-read when it changes on disk (so
/// `callsift users add` takes effect without a restart).
struct UsersFile {
    path: PathBuf,
    loaded: RwLock<(Option<SystemTime>, Arc<Users>)>,
}

impl UsersFile {
    fn open(path: &Path) -> Result<Self> {
        let users = Users::load(path)?;
        if users.is_empty() {
            return Err(Error::Usage(format!(
                "--users {}: no users in the file; add one with `callsift users add NAME --users {}`",
                path.display(),
                path.display()
            )));
        }
        Ok(UsersFile {
            path: path.to_path_buf(),
            loaded: RwLock::new((mtime(path), Arc::new(users))),
        })
    }

    /// The users now; a file that changed is read again, and one that no
    /// longer reads keeps the last good list (with a warning).
    fn current(&self) -> Arc<Users> {
        let now = mtime(&self.path);
        {
            let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            if loaded.0 == now {
                return loaded.1.clone();
            }
        }
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        match Users::load(&self.path) {
            Ok(users) => *loaded = (now, Arc::new(users)),
            Err(e) => {
                tracing::warn!("{e}; keeping the users read before");
                loaded.0 = now;
            }
        }
        loaded.1.clone()
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs_err::metadata(path).and_then(|m| m.modified()).ok()
}

/// Everything the handlers share.
pub struct AppState {
    pub(crate) out: PathBuf,
    users: Option<UsersFile>,
    pub(crate) sessions: Sessions,
    pub(crate) limiter: LoginLimiter,
    /// Opened on first use: serve may start before the first run made an index.
    index: Mutex<Option<Arc<SearchIndex>>>,
    pub(crate) transcodes: audio::TranscodeCache,
    /// Without a users file: the OS user, who is everyone on this machine's loopback.
    os_user: String,
    /// Host header values accepted without a users file (against DNS rebinding).
    local_hosts: Vec<String>,
}

impl AppState {
    fn new(settings: &ServeSettings, port: u16) -> Result<Self> {
        let users = settings.users.as_deref().map(UsersFile::open).transpose()?;
        let local_hosts = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect();
        Ok(AppState {
            out: settings.out.clone(),
            users,
            sessions: Sessions::new(Duration::from_secs(30 * 60), Duration::from_secs(12 * 3600)),
            limiter: LoginLimiter::new(),
            index: Mutex::new(None),
            transcodes: audio::TranscodeCache::new(TRANSCODE_CACHE_BYTES),
            os_user: crate::audit::os_user(),
            local_hosts,
        })
    }

    /// Whether signing in is needed (a users file was given).
    pub(crate) fn login_required(&self) -> bool {
        self.users.is_some()
    }

    pub(crate) fn users(&self) -> Option<Arc<Users>> {
        self.users.as_ref().map(UsersFile::current)
    }

    /// The index, opened once it exists; it follows each commit by itself.
    pub(crate) fn index(&self) -> Result<Arc<SearchIndex>> {
        let mut slot = self.index.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = slot.as_ref() {
            return Ok(index.clone());
        }
        let index = Arc::new(SearchIndex::open(&self.out)?);
        *slot = Some(index.clone());
        Ok(index)
    }

    /// The session without a users file: the OS user, as reviewer.
    pub(crate) fn local_session(&self) -> (String, Session) {
        self.sessions.create(&self.os_user, Role::Reviewer)
    }
}

/// Serves until SIGINT or SIGTERM.
pub fn serve(settings: ServeSettings) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("serve: cannot start the runtime: {e}")))?;
    runtime.block_on(serve_async(settings))
}

async fn serve_async(settings: ServeSettings) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .map_err(|e| Error::Other(format!("--bind {}: {e}", settings.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Other(format!("--bind {}: {e}", settings.bind)))?;
    let state = Arc::new(AppState::new(&settings, addr.port())?);
    let app = router(state);
    // The one line a script (and the tests) wait for: where to point the browser.
    eprintln!(
        "callsift serve: http://{addr}/ over {} ({})",
        settings.out.display(),
        if settings.users.is_some() {
            "sign-in required"
        } else {
            "loopback, no sign-in"
        }
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped())
    .await
    .map_err(|e| Error::Other(format!("serve: {e}")))
}

/// Resolves on the first SIGINT or SIGTERM.
async fn stopped() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("serve: stopping");
}

/// The routes, behind the security layer.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/session", get(api::session))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/search", get(api::search))
        .route("/api/facets", get(api::facets))
        .route("/api/calls/{id}", get(api::call))
        .route("/api/calls/{id}/audio", get(api::audio))
        .route("/api/inbox", get(api::inbox))
        .route("/api/inbox/review", post(api::review));
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/app.css", get(page::style))
        .merge(api)
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// The signed-in user of a request, put there by [`guard`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub session: Session,
    pub token: String,
}

/// Every request passes here: the Host check, the session, CSRF on every
/// state-changing request, and the security headers on every answer.
async fn guard(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    // Audio and transcripts (everything under /api/) are never stored.
    let is_api = req.uri().path().starts_with("/api/");
    let mut response = match check(&state, &mut req) {
        Ok(()) => next.run(req).await,
        Err(refusal) => refusal,
    };
    set_security_headers(response.headers_mut(), is_api);
    response
}

#[allow(clippy::result_large_err)] // the refusal is the answer (see api.rs)
fn check(state: &AppState, req: &mut Request) -> std::result::Result<(), Response> {
    let headers = req.headers();
    if !state.login_required() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !state
            .local_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
        {
            return Err(api::error(
                StatusCode::MISDIRECTED_REQUEST,
                &format!("this server answers only to {}", state.local_hosts[0]),
            ));
        }
    }
    let path = req.uri().path().to_string();
    let token = session_cookie(headers);
    let mut session = token.as_deref().and_then(|t| state.sessions.get(t));
    // A user removed from the users file (or given another role) while
    // signed in is signed out at the next request.
    if let (Some(s), Some(users)) = (&session, state.users())
        && users.get(&s.user).map(|u| u.role) != Some(s.role)
    {
        if let Some(t) = token.as_deref() {
            state.sessions.remove(t);
        }
        session = None;
    }
    let open = matches!(
        path.as_str(),
        "/" | "/app.js" | "/app.css" | "/api/session" | "/api/login"
    );
    let state_changing = !matches!(*req.method(), Method::GET | Method::HEAD);
    if state_changing {
        if !same_origin(headers) {
            return Err(api::error(
                StatusCode::FORBIDDEN,
                "cross-site request refused",
            ));
        }
        if path != "/api/login" {
            let given = headers.get(CSRF_HEADER).and_then(|h| h.to_str().ok());
            match &session {
                Some(s) if auth::csrf_ok(s, given) => {}
                Some(_) => {
                    return Err(api::error(
                        StatusCode::FORBIDDEN,
                        "missing or wrong CSRF token",
                    ));
                }
                None => return Err(api::error(StatusCode::UNAUTHORIZED, "sign in first")),
            }
        }
    }
    match (session, token) {
        (Some(session), Some(token)) => {
            req.extensions_mut().insert(Caller { session, token });
        }
        _ if open => {}
        _ => return Err(api::error(StatusCode::UNAUTHORIZED, "sign in first")),
    }
    Ok(())
}

/// A state-changing request must come from this page: a browser sends
/// `Origin` (and `Sec-Fetch-Site`) on such requests; when present they
/// must name this host.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

/// The session token from the request's cookies.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value for a session (or, with `None`, one that ends it).
pub(crate) fn session_cookie_header(token: Option<&str>) -> HeaderValue {
    let value = match token {
        Some(t) => format!(
            "{SESSION_COOKIE}={t}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=43200"
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The client's address, for the login rate limit.
pub(crate) fn client_ip(info: &ConnectInfo<SocketAddr>) -> IpAddr {
    info.0.ip()
}

fn set_security_headers(h: &mut HeaderMap, api: bool) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
             base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if api { "no-store" } else { "no-cache" }),
    );
}
