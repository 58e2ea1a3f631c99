//! The JSON API of `callsift serve` and the audio stream. Each handler
//! checks its input, runs the library call on tokio's blocking pool and
//! writes the audit line; recordings and transcripts are found by call id
//! only (hex digits, checked before anything touches the disk), never by a
//! path from the request.

// A handler's error is the answer itself (axum's idiom): `Result<_, Response>`
// everywhere here; boxing it would only add an allocation per refusal.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Extension, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::audio::{self, AudioBody, AudioError, RangeSpec};
use super::{AppState, Caller, client_ip, session_cookie_header};
use crate::error::Error;
use crate::model::{RuleHit, ScorecardResult, SearchFilters, SearchHit, SearchRequest, SearchSort};
use crate::show::clock;

type ApiResult = std::result::Result<Response, Response>;

/// A JSON error answer: `{"error": "…"}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// A library error as an answer: bad input is the client's, a missing
/// index means no run finished yet, the rest is the server's (logged).
fn library_error(e: &Error) -> Response {
    match e {
        Error::Query { query, error: qe } => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({
                "error": format!("invalid query: {}", qe.message),
                "position": qe.position,
                "query": query,
            })),
        )
            .into_response(),
        Error::Usage(m) => error(StatusCode::BAD_REQUEST, m),
        Error::NoIndex { .. } => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no search index yet: no run or import has finished a call in this output folder",
        ),
        other => {
            tracing::error!("serve: {other}");
            error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string())
        }
    }
}

/// Runs blocking library work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> std::result::Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(library_error(&e)),
        Err(e) => {
            tracing::error!("serve: a request's work failed: {e}");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

/// Appends an audit line for the signed-in user (a failure to write it is
/// the request's failure: nothing is shown that is not accounted for).
fn audit(
    state: &AppState,
    user: &str,
    command: &str,
    query: Option<&str>,
    filters: serde_json::Value,
    hits: usize,
) -> std::result::Result<(), Response> {
    crate::audit::append(
        &state.out,
        &crate::audit::AuditEntry {
            time: jiff::Timestamp::now(),
            user: user.to_string(),
            command,
            query,
            filters,
            hits,
        },
    )
    .map_err(|e| library_error(&e))
}

fn caller_of(caller: Option<Extension<Caller>>) -> std::result::Result<Caller, Response> {
    caller
        .map(|Extension(c)| c)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "sign in first"))
}

// ---- session ---------------------------------------------------------------

#[derive(Serialize)]
struct SessionView<'a> {
    user: &'a str,
    role: &'a str,
    may_review: bool,
    csrf: &'a str,
    login_required: bool,
}

fn session_view(state: &AppState, s: &super::auth::Session) -> Response {
    Json(SessionView {
        user: &s.user,
        role: s.role.as_str(),
        may_review: s.role.may_review(),
        csrf: &s.csrf,
        login_required: state.login_required(),
    })
    .into_response()
}

/// `GET /api/session`: who is signed in. Without a users file the OS user
/// gets a session here (its cookie carries the CSRF pairing).
pub async fn session(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
) -> Response {
    if let Some(Extension(c)) = caller {
        return session_view(&state, &c.session);
    }
    if state.login_required() {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": "sign in first", "login_required": true })),
        )
            .into_response();
    }
    let (token, session) = state.local_session();
    let mut response = session_view(&state, &session);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header(Some(&token)));
    response
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
}

/// `POST /api/login`: checks the password (argon2, on the blocking pool),
/// rate-limited per user name and per client address.
pub async fn login(
    State(state): State<Arc<AppState>>,
    info: ConnectInfo<SocketAddr>,
    Json(form): Json<LoginForm>,
) -> ApiResult {
    let Some(users) = state.users() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "this server has no users file: no sign-in needed",
        ));
    };
    let ip = client_ip(&info);
    if let Err(wait) = state.limiter.check(&form.user, ip) {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "too many failed sign-ins; try again in {} s",
                wait.as_secs().max(1)
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(r);
    }
    let name = form.user.clone();
    let verified = blocking(move || {
        Ok(users
            .verify(&form.user, &form.password)
            .map(|u| (u.name.clone(), u.role)))
    })
    .await?;
    let filters = serde_json::json!({ "ip": ip.to_string() });
    match verified {
        Some((user, role)) => {
            state.limiter.succeeded(&name, ip);
            audit(&state, &user, "serve:login", None, filters, 0)?;
            let (token, session) = state.sessions.create(&user, role);
            let mut response = session_view(&state, &session);
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session_cookie_header(Some(&token)));
            Ok(response)
        }
        None => {
            state.limiter.failed(&name, ip);
            audit(&state, &name, "serve:login-failed", None, filters, 0)?;
            Err(error(
                StatusCode::UNAUTHORIZED,
                "wrong user name or password",
            ))
        }
    }
}

/// `POST /api/logout`.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
) -> ApiResult {
    let caller = caller_of(caller)?;
    state.sessions.remove(&caller.token);
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header(None));
    Ok(r)
}

// ---- search ----------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    from: Option<String>,
    to: Option<String>,
    speaker: Option<String>,
    agent: Option<String>,
    language: Option<String>,
    rule: Option<String>,
    call: Option<String>,
    #[serde(default)]
    exact: bool,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// Hits per page when the page does not say.
const PAGE: usize = 20;
/// The most hits one request may ask for.
const MAX_PAGE: usize = 200;

/// A piece of a hit's text: `[text, matched]`.
type Part = (String, bool);

#[derive(Serialize)]
struct HitView {
    call_id: String,
    file_name: String,
    segment: usize,
    start_ms: u64,
    end_ms: u64,
    at_ms: u64,
    clock: String,
    speaker: String,
    channel: usize,
    language: String,
    call_start: Option<jiff::Timestamp>,
    agent_id: Option<String>,
    parts: Vec<Part>,
    across_segments: bool,
}

/// A text cut at its highlighted byte ranges (sorted, on character
/// boundaries, as search gives them), so the page shows matches with
/// `<mark>` without ever treating text as HTML.
pub fn split_parts(text: &str, highlights: &[(usize, usize)]) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut at = 0;
    let mut ranges: Vec<(usize, usize)> = highlights.to_vec();
    ranges.sort_unstable();
    for (start, end) in ranges {
        let (start, end) = (start.max(at), end.min(text.len()));
        if start >= end || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        if start > at {
            parts.push((text[at..start].to_string(), false));
        }
        parts.push((text[start..end].to_string(), true));
        at = end;
    }
    if at < text.len() {
        parts.push((text[at..].to_string(), false));
    }
    parts
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn hit_view(h: SearchHit) -> HitView {
    HitView {
        file_name: file_name(&h.source_path),
        clock: clock(h.at_ms),
        parts: split_parts(&h.text, &h.highlights),
        call_id: h.call_id,
        segment: h.segment,
        start_ms: h.start_ms,
        end_ms: h.end_ms,
        at_ms: h.at_ms,
        speaker: h.speaker,
        channel: h.channel,
        language: h.language,
        call_start: h.call_start,
        agent_id: h.agent_id,
        across_segments: h.across_segments,
    }
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn search_request(p: SearchParams) -> crate::Result<SearchRequest> {
    let bound = |flag: &str, v: Option<String>, end: bool| {
        nonempty(v)
            .map(|v| crate::commands::parse_date_bound(flag, &v, end))
            .transpose()
    };
    let sort = match p.sort.as_deref() {
        None | Some("") | Some("score") => SearchSort::Score,
        Some("date") => SearchSort::Date,
        Some(other) => {
            return Err(Error::Usage(format!("sort {other}: use score or date")));
        }
    };
    Ok(SearchRequest {
        query: p.q,
        exact: p.exact,
        filters: SearchFilters {
            from: bound("from", p.from, false)?,
            to: bound("to", p.to, true)?,
            speaker: nonempty(p.speaker),
            agent: nonempty(p.agent),
            language: nonempty(p.language),
            call: nonempty(p.call),
            rule: nonempty(p.rule),
        },
        sort,
        limit: p.limit.unwrap_or(PAGE).min(MAX_PAGE),
        offset: p.offset,
    })
}

/// `GET /api/search?q=…&from=…&to=…&speaker=…&agent=…&language=…&rule=…&offset=…`:
/// the same query language and search code as `callsift search`.
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Query(params): Query<SearchParams>,
) -> ApiResult {
    let caller = caller_of(caller)?;
    if params.q.trim().is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "type what to search for"));
    }
    let filters = serde_json::json!({
        "from": params.from, "to": params.to, "speaker": params.speaker, "agent": params.agent,
        "language": params.language, "rule": params.rule, "exact": params.exact,
        "offset": params.offset,
    });
    let query = params.q.clone();
    let st = state.clone();
    let (request, results) = blocking(move || {
        let request = search_request(params)?;
        let results = st.index()?.search(&request)?;
        Ok((request, results))
    })
    .await?;
    audit(
        &state,
        &caller.session.user,
        "serve:search",
        Some(&query),
        filters,
        results.total,
    )?;
    Ok(Json(serde_json::json!({
        "total": results.total,
        "offset": request.offset,
        "limit": request.limit,
        "hits": results.hits.into_iter().map(hit_view).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `GET /api/facets`: the values the filters offer (rules that fired, languages).
pub async fn facets(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
) -> ApiResult {
    caller_of(caller)?;
    let out = state.out.clone();
    let rules = blocking(move || {
        let hits = crate::tables::read_hits(&out).unwrap_or_default();
        Ok(hits.into_iter().map(|h| h.rule).collect::<BTreeSet<_>>())
    })
    .await?;
    Ok(Json(serde_json::json!({
        "rules": rules,
        "languages": ["pl", "ru", "he", "en"],
        "speakers": ["agent", "customer"],
    }))
    .into_response())
}

// ---- one call --------------------------------------------------------------

/// A call id from the URL: hex digits only, so it can name nothing but a
/// transcript file (no `/`, no `..`).
fn checked_id(id: &str) -> std::result::Result<String, Response> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(error(StatusCode::BAD_REQUEST, "not a call id (hex digits)"));
    }
    Ok(id.to_ascii_lowercase())
}

/// The stored transcript of a call, or 404 when it is not (or no longer) there.
async fn transcript(
    state: &AppState,
    id: &str,
) -> std::result::Result<crate::model::Transcript, Response> {
    let path = crate::sink::transcript_json::transcript_path(&state.out, id);
    let shown = id.to_string();
    let found = blocking(move || {
        if !path.is_file() {
            return Ok(None);
        }
        crate::sink::transcript_json::read_transcript(&path).map(Some)
    })
    .await?;
    found.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            &format!("no call {shown} here (purged, or never processed)"),
        )
    })
}

/// Where a transcript's recording is now: its path as recorded (a relative
/// one is taken from where serve runs).
fn recording_path(t: &crate::model::Transcript) -> PathBuf {
    PathBuf::from(&t.source_path)
}

#[derive(Serialize)]
struct LineView {
    no: usize,
    start_ms: u64,
    end_ms: u64,
    clock: String,
    speaker: String,
    channel: usize,
    text: String,
    /// The line cut at the words the page's query matched (empty: none matched).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CallParams {
    /// The search that led here: its matches are marked in the dialogue.
    q: Option<String>,
    #[serde(default)]
    exact: bool,
}

#[derive(Serialize)]
struct CallView {
    call_id: String,
    file_name: String,
    call_start: Option<jiff::Timestamp>,
    duration_ms: u64,
    duration: String,
    channels: usize,
    codec: String,
    languages: std::collections::BTreeMap<String, String>,
    metadata: std::collections::BTreeMap<String, String>,
    lines: Vec<LineView>,
    hits: Vec<RuleHit>,
    scorecards: Vec<ScorecardResult>,
    /// `None` when the recording can be played; else why not, in words.
    audio_problem: Option<String>,
}

/// The matched words of each line of a call, by the same search as
/// `/api/search` restricted to the call (a phrase across two lines marks
/// neither line's words: its text is both lines').
async fn matches_in_call(
    state: &Arc<AppState>,
    id: &str,
    p: &CallParams,
) -> std::result::Result<std::collections::HashMap<usize, Vec<Part>>, Response> {
    let Some(q) = nonempty(p.q.clone()) else {
        return Ok(Default::default());
    };
    let request = SearchRequest {
        query: q,
        exact: p.exact,
        filters: SearchFilters {
            call: Some(id.to_string()),
            ..Default::default()
        },
        sort: SearchSort::Score,
        limit: MAX_PAGE,
        offset: 0,
    };
    let st = state.clone();
    let results = blocking(move || st.index()?.search(&request)).await?;
    Ok(results
        .hits
        .into_iter()
        .filter(|h| !h.across_segments)
        .map(|h| (h.segment, split_parts(&h.text, &h.highlights)))
        .collect())
}

/// `GET /api/calls/{id}[?q=…]`: the dialogue (with the query's matches
/// marked), the rules' hits and scorecards, and whether the recording is
/// still there.
pub async fn call(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    UrlPath(id): UrlPath<String>,
    Query(params): Query<CallParams>,
) -> ApiResult {
    let caller = caller_of(caller)?;
    let id = checked_id(&id)?;
    let t = transcript(&state, &id).await?;
    let mut matched = matches_in_call(&state, &id, &params).await?;
    let recording = recording_path(&t);
    let audio_problem =
        (!recording.is_file()).then(|| AudioError::Missing(recording.clone()).to_string());
    audit(
        &state,
        &caller.session.user,
        "serve:show",
        params.q.as_deref(),
        serde_json::json!({ "call": id }),
        t.segments.len(),
    )?;
    let analysis = t.analysis.clone().unwrap_or_default();
    let lines = t
        .segments
        .iter()
        .enumerate()
        .map(|(no, s)| LineView {
            no,
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            clock: clock(s.start_ms),
            speaker: s.speaker.clone(),
            channel: s.channel,
            text: s.text.clone(),
            parts: matched.remove(&no).unwrap_or_default(),
        })
        .collect();
    Ok(Json(CallView {
        file_name: file_name(&t.source_path),
        duration: clock(t.duration_ms),
        call_id: t.call_id,
        call_start: t.call_start,
        duration_ms: t.duration_ms,
        channels: t.channels,
        codec: t.codec,
        languages: t.languages,
        metadata: t.metadata,
        lines,
        hits: analysis.hits,
        scorecards: analysis.scorecards,
        audio_problem,
    })
    .into_response())
}

/// The most bytes one answer to an open-ended range (`bytes=N-`) carries:
/// browsers ask again for the rest, so a long recording is never read
/// into memory whole.
const MAX_CHUNK: u64 = 4 << 20;

/// `GET /api/calls/{id}/audio`: the recording, as browsers play it, with
/// Range support (µ-law, A-law and ADPCM transcoded to PCM WAV).
pub async fn audio(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = caller_of(caller)?;
    let id = checked_id(&id)?;
    let t = transcript(&state, &id).await?;
    let path = recording_path(&t);
    let st = state.clone();
    let body = tokio::task::spawn_blocking(move || audio::open_for_browser(&path, &st.transcodes))
        .await
        .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))?
        .map_err(|e| match e {
            AudioError::Missing(_) => error(StatusCode::NOT_FOUND, &e.to_string()),
            _ => error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        })?;
    let range_header = headers.get(header::RANGE).and_then(|h| h.to_str().ok());
    let spec = audio::parse_range(range_header, body.len());
    // One line per playback, not per range request: the first request of a
    // playback asks from the start (or has no Range).
    if matches!(spec, RangeSpec::Full | RangeSpec::Partial { start: 0, .. }) {
        audit(
            &state,
            &caller.session.user,
            "serve:play",
            None,
            serde_json::json!({ "call": id }),
            0,
        )?;
    }
    respond_range(body, spec, range_header.is_some()).await
}

async fn respond_range(body: AudioBody, spec: RangeSpec, ranged: bool) -> ApiResult {
    let len = body.len();
    let (status, start, end) = match spec {
        RangeSpec::Unsatisfiable => {
            let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Err(r);
        }
        RangeSpec::Full if len == 0 => (StatusCode::OK, 0, None),
        RangeSpec::Full => (StatusCode::OK, 0, Some(len - 1)),
        RangeSpec::Partial { start, end } => {
            let end = if ranged {
                end.min(start + MAX_CHUNK - 1)
            } else {
                end
            };
            (StatusCode::PARTIAL_CONTENT, start, Some(end))
        }
    };
    let mime = body.mime();
    let bytes = match end {
        Some(end) => tokio::task::spawn_blocking(move || body.read_range(start, end))
            .await
            .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))?
            .map_err(|e| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("recording: {e}"),
                )
            })?,
        None => Vec::new(),
    };
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let (StatusCode::PARTIAL_CONTENT, Some(end)) = (status, end)
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(r)
}

// ---- inbox -----------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct InboxParams {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
    #[serde(default)]
    unreviewed: bool,
}

/// `GET /api/inbox`: watchlist and do-not-call hits, most severe and newest
/// first, with their review marks.
pub async fn inbox(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Query(p): Query<InboxParams>,
) -> ApiResult {
    caller_of(caller)?;
    let out = state.out.clone();
    let req = crate::reviews::InboxRequest {
        unreviewed_only: p.unreviewed,
        offset: p.offset,
        limit: p.limit.unwrap_or(PAGE).min(MAX_PAGE),
    };
    let inbox = blocking(move || crate::reviews::inbox(&out, &req)).await?;
    let items: Vec<serde_json::Value> = inbox
        .items
        .iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            v["clock"] = clock(i.hit.start_ms).into();
            v
        })
        .collect();
    Ok(Json(serde_json::json!({
        "total": inbox.total,
        "unreviewed": inbox.unreviewed,
        "offset": p.offset,
        "items": items,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct ReviewForm {
    key: String,
    #[serde(default = "yes")]
    reviewed: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/inbox/review {"key": …, "reviewed": true}`: marks a hit
/// reviewed (or takes the mark back), for reviewers only.
pub async fn review(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Json(form): Json<ReviewForm>,
) -> ApiResult {
    let caller = caller_of(caller)?;
    if !caller.session.role.may_review() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "only reviewers may mark hits reviewed",
        ));
    }
    let out = state.out.clone();
    let key = form.key.clone();
    let hit = blocking(move || crate::reviews::find_hit(&out, &key)).await?;
    let Some(hit) = hit else {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("no hit {} (rescored or purged since?)", form.key),
        ));
    };
    let mark = crate::reviews::ReviewMark {
        key: form.key.clone(),
        call_id: hit.call_id.clone(),
        reviewed: form.reviewed,
        user: caller.session.user.clone(),
        at: jiff::Timestamp::now(),
    };
    let out = state.out.clone();
    let stored = mark.clone();
    blocking(move || crate::reviews::append_mark(&out, &stored)).await?;
    audit(
        &state,
        &caller.session.user,
        "serve:review",
        None,
        serde_json::json!({ "hit": form.key, "call": hit.call_id, "reviewed": form.reviewed }),
        1,
    )?;
    Ok(Json(mark).into_response())
}

/// Anything else: 404 (JSON under `/api/`).
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_highlights() {
        let text = "Zadzwonię z prywatnej komórki jutro";
        let a = text.find("prywatnej").unwrap();
        let b = text.find(" jutro").unwrap();
        let parts = split_parts(text, &[(a, b)]);
        assert_eq!(
            parts,
            vec![
                ("Zadzwonię z ".to_string(), false),
                ("prywatnej komórki".to_string(), true),
                (" jutro".to_string(), false),
            ]
        );
        // Out-of-range or non-boundary ranges are dropped, never panic.
        assert_eq!(split_parts("ab", &[(1, 9)]).len(), 2);
        assert_eq!(split_parts("é", &[(1, 2)]), vec![("é".to_string(), false)]);
    }

    #[test]
    fn call_ids_cannot_name_paths() {
        for bad in ["", "../etc", "abc/def", "a.json", "%2e%2e", &"a".repeat(65)] {
            assert!(checked_id(bad).is_err(), "{bad}");
        }
        assert_eq!(checked_id("B6E711").unwrap(), "b6e711");
    }
}
