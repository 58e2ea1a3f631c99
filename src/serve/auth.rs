//! The security building blocks of `callsift serve`, free of axum so they
//! can be tested alone: random tokens, sessions (cookie token → user,
//! role, CSRF token) with idle and absolute expiry, the CSRF check, and
//! the login rate limiter. Every clock-dependent call has an `_at` form
//! taking `now`, so tests move time instead of sleeping.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::users::Role;

/// Random bytes in a session or CSRF token.
const TOKEN_BYTES: usize = 32;

/// 32 random bytes from the OS, as 64 hex digits; the error when the OS
/// generator fails.
pub fn try_random_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Other(format!("cannot get random bytes from the OS: {e}")))?;
    Ok(hex::encode(bytes))
}

/// [`try_random_token`], for callers that cannot go on without one.
///
/// # Panics
/// When the OS random generator fails: a server must not hand out
/// guessable session tokens, and on Linux `getrandom` does not fail once
/// the system has booted.
pub fn random_token() -> String {
    match try_random_token() {
        Ok(token) => token,
        Err(e) => panic!("{e}"),
    }
}

/// Are `a` and `b` equal, in a time that depends on their lengths only
/// (never on where they first differ)?
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // So the optimiser cannot stop at the first difference.
    std::hint::black_box(diff) == 0
}

/// A signed-in user, as the session cookie finds it.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    /// Sent with the page; state-changing requests echo it in a header.
    pub csrf: String,
}

struct Entry {
    session: Session,
    created: Instant,
    last_seen: Instant,
}

/// At most this many live sessions; past it the one unused longest goes,
/// so a flood of logins cannot grow memory without end.
const MAX_SESSIONS: usize = 10_000;

/// The live sessions, keyed by cookie token.
pub struct Sessions {
    idle: Duration,
    max_age: Duration,
    // A HashMap lookup on a 256-bit random token leaks nothing useful by
    // its timing: SipHash is keyed per process, and guessing a token is
    // 2^256 work anyway.
    map: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    /// A session ends `idle` after its last use, and `max_age` after
    /// sign-in whatever its use (serve: 30 minutes and 12 hours).
    pub fn new(idle: Duration, max_age: Duration) -> Sessions {
        Sessions {
            idle,
            max_age,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// A new session for `user`: its cookie token and the session (with a
    /// fresh CSRF token).
    pub fn create(&self, user: &str, role: Role) -> (String, Session) {
        self.create_at(user, role, Instant::now())
    }

    /// [`Sessions::create`] at `now`.
    pub fn create_at(&self, user: &str, role: Role, now: Instant) -> (String, Session) {
        let token = random_token();
        let session = Session {
            user: user.to_string(),
            role,
            csrf: random_token(),
        };
        let mut map = self.lock();
        map.retain(|_, e| !self.expired(e, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            token.clone(),
            Entry {
                session: session.clone(),
                created: now,
                last_seen: now,
            },
        );
        (token, session)
    }

    /// The session of a cookie token; an expired one is removed and is
    /// `None`. A live one counts as used now.
    pub fn get(&self, token: &str) -> Option<Session> {
        self.get_at(token, Instant::now())
    }

    /// [`Sessions::get`] at `now`.
    pub fn get_at(&self, token: &str, now: Instant) -> Option<Session> {
        let mut map = self.lock();
        let entry = map.get_mut(token)?;
        if self.expired(entry, now) {
            map.remove(token);
            return None;
        }
        entry.last_seen = now;
        Some(entry.session.clone())
    }

    /// Signs a session out.
    pub fn remove(&self, token: &str) {
        self.lock().remove(token);
    }

    /// Ends every session of `user` (their password or role changed, or
    /// they were removed); how many it ended.
    pub fn remove_user(&self, user: &str) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, e| e.session.user != user);
        before - map.len()
    }

    /// Live sessions (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(e.last_seen) > self.idle
            || now.saturating_duration_since(e.created) > self.max_age
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves the map consistent (each
        // change is one call), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Does the CSRF header of a state-changing request carry the session's
/// token? Compared in constant time; a missing header is a mismatch.
pub fn csrf_ok(session: &Session, header: Option<&str>) -> bool {
    match header {
        Some(h) if !session.csrf.is_empty() => {
            constant_time_eq(session.csrf.as_bytes(), h.trim().as_bytes())
        }
        _ => false,
    }
}

/// Failed logins per user name within [`LOGIN_WINDOW`] before that name
/// is refused.
pub const LOGIN_FAILS_PER_USER: usize = 5;
/// Failed logins per client address within [`LOGIN_WINDOW`] before that
/// address is refused.
pub const LOGIN_FAILS_PER_IP: usize = 20;
/// How long a failed login counts.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures remembered at most (all names and addresses together): past
/// it the oldest are forgotten early, so memory stays bounded under a
/// flood from many addresses.
const MAX_FAILURES: usize = 100_000;

/// What failures are counted against: a name, or an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Ip(IpAddr),
}

#[derive(Default)]
struct Failures {
    /// Every failure, oldest first, for expiry in order.
    events: VecDeque<(Instant, Key)>,
    /// The times of each key's failures, oldest first.
    by_key: HashMap<Key, VecDeque<Instant>>,
}

/// Refuses logins after [`LOGIN_FAILS_PER_USER`] failures for a user
/// name, or [`LOGIN_FAILS_PER_IP`] from one client address, within
/// [`LOGIN_WINDOW`], until the oldest of them leaves the window.
pub struct LoginLimiter {
    per_user: usize,
    per_ip: usize,
    window: Duration,
    state: Mutex<Failures>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginLimiter {
    pub fn new() -> LoginLimiter {
        LoginLimiter {
            per_user: LOGIN_FAILS_PER_USER,
            per_ip: LOGIN_FAILS_PER_IP,
            window: LOGIN_WINDOW,
            state: Mutex::new(Failures::default()),
        }
    }

    /// May `user` try to sign in from `ip` now? `Err(retry_after)` when
    /// not.
    pub fn check(&self, user: &str, ip: IpAddr) -> std::result::Result<(), Duration> {
        self.check_at(user, ip, Instant::now())
    }

    /// [`LoginLimiter::check`] at `now`.
    pub fn check_at(
        &self,
        user: &str,
        ip: IpAddr,
        now: Instant,
    ) -> std::result::Result<(), Duration> {
        let mut state = self.lock();
        self.expire(&mut state, now);
        let waits = [
            self.wait(&state, &user_key(user), self.per_user, now),
            self.wait(&state, &ip_key(ip), self.per_ip, now),
        ];
        match waits.into_iter().flatten().max() {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed login of `user` from `ip`.
    pub fn failed(&self, user: &str, ip: IpAddr) {
        self.failed_at(user, ip, Instant::now());
    }

    /// [`LoginLimiter::failed`] at `now`.
    pub fn failed_at(&self, user: &str, ip: IpAddr, now: Instant) {
        let mut state = self.lock();
        self.expire(&mut state, now);
        for key in [user_key(user), ip_key(ip)] {
            state.by_key.entry(key.clone()).or_default().push_back(now);
            state.events.push_back((now, key));
        }
        while state.events.len() > MAX_FAILURES {
            forget_oldest(&mut state);
        }
    }

    /// A successful login: forgets `user`'s failures (the address's stay:
    /// one good account must not reset a guesser's count).
    pub fn succeeded(&self, user: &str, ip: IpAddr) {
        self.succeeded_at(user, ip, Instant::now());
    }

    /// [`LoginLimiter::succeeded`] at `now`.
    pub fn succeeded_at(&self, user: &str, ip: IpAddr, now: Instant) {
        let _ = ip;
        let mut state = self.lock();
        self.expire(&mut state, now);
        // Its entries in `events` stay until they expire; `forget_oldest`
        // skips them then.
        state.by_key.remove(&user_key(user));
    }

    /// How long `key` must wait, when it has `limit` failures or more in
    /// the window: until enough of them leave it.
    fn wait(&self, state: &Failures, key: &Key, limit: usize, now: Instant) -> Option<Duration> {
        let times = state.by_key.get(key)?;
        if times.len() < limit {
            return None;
        }
        // With `limit` failures it is free again when the oldest of the
        // last `limit` leaves the window.
        let decisive = times[times.len() - limit];
        let free_at = decisive + self.window;
        Some(
            free_at
                .saturating_duration_since(now)
                .max(Duration::from_secs(1)),
        )
    }

    /// Drops every failure older than the window (amortised O(1): the
    /// events are in time order).
    fn expire(&self, state: &mut Failures, now: Instant) {
        while let Some((at, _)) = state.events.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            forget_oldest(state);
        }
    }

    /// Tracked keys (names and addresses), for tests of the memory bound.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().by_key.len()
    }

    fn lock(&self) -> MutexGuard<'_, Failures> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes the oldest failure from `events` and from its key's list (when
/// `succeeded` has not cleared that already).
fn forget_oldest(state: &mut Failures) {
    let Some((at, key)) = state.events.pop_front() else {
        return;
    };
    if let Some(times) = state.by_key.get_mut(&key) {
        // A cleared-then-failed-again key's oldest time is newer than this
        // event's: that failure is not this one.
        if times.front().is_some_and(|t| *t <= at) {
            times.pop_front();
        }
        if times.is_empty() {
            state.by_key.remove(&key);
        }
    }
}

/// The name failures count against: as given, but no longer than any
/// valid name and one byte, so a megabyte of name costs no megabyte.
fn user_key(user: &str) -> Key {
    let max = crate::users::MAX_NAME_LEN + 1;
    let mut end = user.len().min(max);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    Key::User(user[..end].to_string())
}

/// The address failures count against: an IPv4 address, or an IPv6
/// address's /64 (one client usually holds a whole /64, and could
/// otherwise take a fresh address per try). An IPv4-mapped IPv6 address
/// is its IPv4 address.
fn ip_key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(v4) => Key::Ip(IpAddr::V4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Key::Ip(IpAddr::V4(v4)),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                Key::Ip(IpAddr::V6(std::net::Ipv6Addr::from(seg)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn tokens_are_64_hex_digits_and_differ() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"xbc"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn a_session_is_found_by_its_token_until_signed_out() {
        let sessions = Sessions::new(30 * MIN, 12 * 60 * MIN);
        let (token, session) = sessions.create("anna", Role::Reviewer);
        assert_ne!(token, session.csrf);
        let found = sessions.get(&token).unwrap();
        assert_eq!(found.user, "anna");
        assert_eq!(found.role, Role::Reviewer);
        assert_eq!(found.csrf, session.csrf);
        assert!(sessions.get(&random_token()).is_none());
        assert!(sessions.get("").is_none());
        sessions.remove(&token);
        assert!(sessions.get(&token).is_none());
    }

    #[test]
    fn sessions_expire_when_idle_and_at_max_age() {
        let sessions = Sessions::new(30 * MIN, 12 * 60 * MIN);
        let t0 = Instant::now();
        let (idle, _) = sessions.create_at("anna", Role::Viewer, t0);
        let (busy, _) = sessions.create_at("bob", Role::Viewer, t0);
        // Used every 20 minutes: alive past 30 minutes, up to 12 hours.
        let mut now = t0;
        for _ in 0..36 {
            now += 20 * MIN;
            assert!(sessions.get_at(&busy, now).is_some(), "at {:?}", now - t0);
        }
        assert!(sessions.get_at(&idle, t0 + 29 * MIN).is_some());
        assert!(
            sessions.get_at(&idle, t0 + 60 * MIN).is_none(),
            "idle 31 min"
        );
        // 12 h 1 min after sign-in, used a minute ago: too old.
        assert_eq!(now - t0, 12 * 60 * MIN);
        assert!(sessions.get_at(&busy, now + MIN).is_none());
        // Expired sessions are gone, not only refused.
        assert!(sessions.get_at(&busy, t0).is_none());
        assert!(sessions.is_empty());
    }

    #[test]
    fn creating_sweeps_expired_sessions() {
        let sessions = Sessions::new(MIN, 10 * MIN);
        let t0 = Instant::now();
        for _ in 0..5 {
            sessions.create_at("anna", Role::Viewer, t0);
        }
        assert_eq!(sessions.len(), 5);
        sessions.create_at("bob", Role::Viewer, t0 + 2 * MIN);
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn remove_user_ends_all_their_sessions() {
        let sessions = Sessions::new(MIN, 10 * MIN);
        let (a1, _) = sessions.create("anna", Role::Viewer);
        let (a2, _) = sessions.create("anna", Role::Viewer);
        let (b, _) = sessions.create("bob", Role::Viewer);
        assert_eq!(sessions.remove_user("anna"), 2);
        assert!(sessions.get(&a1).is_none() && sessions.get(&a2).is_none());
        assert!(sessions.get(&b).is_some());
    }

    #[test]
    fn csrf_must_match_the_session() {
        let sessions = Sessions::new(MIN, 10 * MIN);
        let (_, session) = sessions.create("anna", Role::Reviewer);
        let (_, other) = sessions.create("bob", Role::Reviewer);
        assert!(csrf_ok(&session, Some(&session.csrf)));
        assert!(!csrf_ok(&session, Some(&other.csrf)));
        assert!(!csrf_ok(&session, None));
        assert!(!csrf_ok(&session, Some("")));
        assert!(!csrf_ok(&session, Some(&session.csrf[..63])));
        let empty = Session {
            csrf: String::new(),
            ..session
        };
        assert!(!csrf_ok(&empty, Some("")));
    }

    #[test]
    fn the_sixth_try_for_a_user_is_refused_until_the_window_passes() {
        let limiter = LoginLimiter::new();
        let t0 = Instant::now();
        // Five failures for anna, a minute apart, from different addresses.
        for i in 0..5u32 {
            let at = t0 + i * MIN;
            let from = ip(&format!("10.0.0.{i}"));
            assert!(limiter.check_at("anna", from, at).is_ok(), "try {}", i + 1);
            limiter.failed_at("anna", from, at);
        }
        let now = t0 + 5 * MIN;
        let wait = limiter.check_at("anna", ip("10.9.9.9"), now).unwrap_err();
        assert_eq!(wait, 10 * MIN, "until the first failure is 15 min old");
        // Other names from the same addresses are fine.
        assert!(limiter.check_at("bob", ip("10.0.0.1"), now).is_ok());
        // Free again when the oldest failure leaves the window, and then
        // only for one try before the next oldest counts.
        assert!(
            limiter
                .check_at("anna", ip("10.9.9.9"), t0 + 15 * MIN)
                .is_ok()
        );
        limiter.failed_at("anna", ip("10.9.9.9"), t0 + 15 * MIN);
        let wait = limiter
            .check_at("anna", ip("10.9.9.9"), t0 + 15 * MIN)
            .unwrap_err();
        assert_eq!(wait, MIN);
    }

    #[test]
    fn the_twenty_first_try_from_an_address_is_refused() {
        let limiter = LoginLimiter::new();
        let t0 = Instant::now();
        let from = ip("192.0.2.7");
        for i in 0..20u32 {
            let at = t0 + i * Duration::from_secs(10);
            let name = format!("user{i}");
            assert!(limiter.check_at(&name, from, at).is_ok(), "try {}", i + 1);
            limiter.failed_at(&name, from, at);
        }
        let now = t0 + 200 * Duration::from_secs(1);
        assert!(limiter.check_at("fresh", from, now).is_err());
        assert!(limiter.check_at("fresh", ip("192.0.2.8"), now).is_ok());
        // The same /64 is the same client; another /64 is not.
        let v6 = ip("2001:db8:1:2::1");
        for i in 0..20u32 {
            limiter.failed_at(&format!("v{i}"), v6, now);
        }
        assert!(
            limiter
                .check_at("x", ip("2001:db8:1:2:ffff::9"), now)
                .is_err()
        );
        assert!(limiter.check_at("x", ip("2001:db8:1:3::1"), now).is_ok());
        // An IPv4-mapped address is its IPv4 address.
        assert!(limiter.check_at("x", ip("::ffff:192.0.2.7"), now).is_err());
        // All of it is forgotten after the window, memory included.
        let later = now + LOGIN_WINDOW;
        assert!(limiter.check_at("fresh", from, later).is_ok());
        assert!(limiter.check_at("x", v6, later).is_ok());
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn success_clears_the_users_failures_but_not_the_addresss() {
        let limiter = LoginLimiter::new();
        let t0 = Instant::now();
        let from = ip("198.51.100.1");
        for i in 0..5u32 {
            limiter.failed_at("anna", from, t0 + i * MIN);
        }
        assert!(limiter.check_at("anna", from, t0 + 5 * MIN).is_err());
        limiter.succeeded_at("anna", from, t0 + 5 * MIN);
        assert!(limiter.check_at("anna", from, t0 + 5 * MIN).is_ok());
        // New failures after the reset count from zero, and expiring the
        // old (cleared) ones does not eat the new ones.
        for i in 0..4u32 {
            limiter.failed_at("anna", from, t0 + (6 + i) * MIN);
        }
        assert!(limiter.check_at("anna", from, t0 + 16 * MIN).is_ok());
        limiter.failed_at("anna", from, t0 + 16 * MIN);
        assert!(limiter.check_at("anna", from, t0 + 17 * MIN).is_err());
        // The address kept its count: 7 failures still in the window
        // (from minute 3 on), and 13 more make 20.
        for i in 0..12u32 {
            limiter.failed_at(&format!("u{i}"), from, t0 + 17 * MIN);
        }
        assert!(limiter.check_at("bob", from, t0 + 17 * MIN).is_ok());
        limiter.failed_at("u12", from, t0 + 17 * MIN);
        assert!(limiter.check_at("bob", from, t0 + 17 * MIN).is_err());
    }

    #[test]
    fn a_huge_name_is_counted_by_its_start() {
        let limiter = LoginLimiter::new();
        let t0 = Instant::now();
        let long = "é".repeat(100_000);
        for i in 0..5u32 {
            limiter.failed_at(&long, ip(&format!("10.1.0.{i}")), t0);
        }
        assert!(limiter.check_at(&long, ip("10.2.0.1"), t0).is_err());
        let Key::User(k) = user_key(&long) else {
            unreachable!()
        };
        assert!(k.len() <= crate::users::MAX_NAME_LEN + 1);
        assert_eq!(user_key("anna"), Key::User("anna".into()));
    }
}
