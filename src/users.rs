//! The users file of `callsift serve`: who may sign in, with which role,
//! and their argon2id password hashes (PHC strings). `callsift users`
//! writes it, `serve --users FILE` reads it once at start.
//!
//! ```toml
//! # callsift serve users (callsift users add NAME --users FILE)
//! [[user]]
//! name = "anna"
//! role = "reviewer"          # or "viewer"
//! password = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! ```
//!
//! The file holds hashes only, yet it is written 0600: a hash still lets
//! its reader guess passwords offline.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};

/// The shortest password `users add` takes.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest user name.
pub const MAX_NAME_LEN: usize = 64;
/// The file's mode: only its owner (the account running serve) reads it.
pub const USERS_FILE_MODE: u32 = 0o600;

const HEADER: &str = "# callsift serve users (callsift users add NAME --users FILE)\n";

/// A hash of a password nobody knows, made with the crate's default
/// parameters: [`Users::verify`] of an unknown name checks against it, so
/// an unknown name costs as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2lmdGR1bW15c2FsdDAwMQ$KSpTn51aOjvEBjkgrTjcDi0w5DbpBb7Y5O1E7ijRqNE";

/// What a signed-in user may do on the search page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Search and listen.
    Viewer,
    /// Also marks hits reviewed.
    Reviewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer => "reviewer",
        }
    }

    /// May this role mark hits reviewed?
    pub fn may_review(self) -> bool {
        matches!(self, Role::Reviewer)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One user of the file.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// The argon2 PHC string, checked to parse when loaded or made.
    hash: String,
}

// By hand: the hash stays out of logs and panics.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The users of one file, sorted by name.
#[derive(Debug, Clone)]
pub struct Users {
    path: PathBuf,
    users: Vec<User>,
}

/// The file as written; `Spanned` so a bad entry's error names its line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[serde(default)]
    user: Vec<EntryIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    name: Spanned<String>,
    role: Role,
    password: Spanned<String>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    user: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    name: &'a str,
    role: Role,
    password: &'a str,
}

impl Users {
    /// Reads and validates a users file. Errors name the path, and the
    /// line for a bad entry; a hash is never repeated in a message.
    pub fn load(path: &Path) -> Result<Users> {
        Self::read(path, true)
    }

    /// `warn_if_open`: warn when others may read the file (not when it is
    /// about to be rewritten 0600 anyway).
    fn read(path: &Path, warn_if_open: bool) -> Result<Users> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "; make it with `callsift users add NAME --users {}`",
                    path.display()
                )
            } else {
                String::new()
            };
            file_error(
                path,
                format!("cannot read the users file: {e}{hint}"),
                Some(Box::new(e)),
            )
        })?;
        if warn_if_open {
            warn_if_readable_by_others(path);
        }
        Self::parse(&text, path)
    }

    /// [`Users::load`], except that a missing file is an empty list (the
    /// first `users add` makes it).
    pub fn load_or_empty(path: &Path) -> Result<Users> {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Users {
                path: path.to_path_buf(),
                users: Vec::new(),
            }),
            _ => Self::read(path, false),
        }
    }

    /// Parses the text of the users file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Users> {
        let file: FileIn = toml::from_str(text).map_err(|e| {
            let message = one_line_toml_error(&e);
            file_error(path, message, Some(Box::new(e)))
        })?;
        let mut users: Vec<User> = Vec::with_capacity(file.user.len());
        for entry in file.user {
            let line = crate::rules::spec::line_of(text, entry.name.span().start);
            let name = entry.name.into_inner();
            check_name(&name).map_err(|e| file_error(path, format!("line {line}: {e}"), None))?;
            if users.iter().any(|u| u.name == name) {
                return Err(file_error(
                    path,
                    format!("line {line}: user {name} is listed twice"),
                    None,
                ));
            }
            let line = crate::rules::spec::line_of(text, entry.password.span().start);
            let hash = entry.password.into_inner();
            check_hash(&hash).map_err(|reason| {
                file_error(
                    path,
                    format!(
                        "line {line}: the password of {name} is not an argon2 PHC string \
                         ({reason}); set it again with `callsift users add {name} --users {}`",
                        path.display()
                    ),
                    None,
                )
            })?;
            users.push(User {
                name,
                role: entry.role,
                hash,
            });
        }
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Users {
            path: path.to_path_buf(),
            users,
        })
    }

    /// The file these users were read from and are saved to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the file whole (temporary file, sync, rename), mode 0600
    /// from the moment it is created, so the hashes are never readable by
    /// the group, not even half-written.
    pub fn save(&self) -> Result<()> {
        let out = FileOut {
            user: self
                .users
                .iter()
                .map(|u| EntryOut {
                    name: &u.name,
                    role: u.role,
                    password: &u.hash,
                })
                .collect(),
        };
        let body = toml::to_string(&out).map_err(|e| {
            file_error(
                &self.path,
                format!("cannot write the users file: {e}"),
                Some(Box::new(e)),
            )
        })?;
        write_private(&self.path, format!("{HEADER}{body}").as_bytes())
    }

    /// Adds `name`, or replaces its role and password; true when it
    /// replaced a user. The password is hashed with argon2id, the crate's
    /// default parameters and a random salt.
    pub fn add(&mut self, name: &str, role: Role, password: &str) -> Result<bool> {
        check_name(name)?;
        check_password(password)?;
        let hash = hash_password(password)?;
        let user = User {
            name: name.to_string(),
            role,
            hash,
        };
        match self.users.binary_search_by(|u| u.name.as_str().cmp(name)) {
            Ok(i) => {
                self.users[i] = user;
                Ok(true)
            }
            Err(i) => {
                self.users.insert(i, user);
                Ok(false)
            }
        }
    }

    /// Removes `name`; false when there was no such user.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.users.len();
        self.users.retain(|u| u.name != name);
        self.users.len() != before
    }

    /// The users, by name.
    pub fn list(&self) -> impl Iterator<Item = &User> {
        self.users.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The user, when `password` is theirs. Slow on purpose (argon2); an
    /// unknown name is checked against [`DUMMY_HASH`] so that the time
    /// taken does not tell which names exist.
    pub fn verify(&self, name: &str, password: &str) -> Option<&User> {
        let user = self.get(name);
        let hash = user.map_or(DUMMY_HASH, |u| u.hash.as_str());
        let ok = verify_hash(hash, password);
        if ok { user } else { None }
    }
}

/// A user name: letters, digits, `.`, `_`, `-`, at most 64.
pub fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "user name {name:?} is not valid: use letters, digits, `.`, `_`, `-` \
             (1 to {MAX_NAME_LEN})"
        )))
    }
}

fn check_password(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Error::Usage(format!(
            "the password is too short ({chars} characters): at least {MIN_PASSWORD_CHARS}"
        )));
    }
    Ok(())
}

/// An argon2 PHC string whose parameters argon2 accepts, with salt and
/// hash; the reason otherwise (never the string itself: it might be a
/// password typed into the file).
fn check_hash(s: &str) -> std::result::Result<(), String> {
    let hash = PasswordHash::new(s).map_err(|e| e.to_string())?;
    argon2::Algorithm::try_from(hash.algorithm.as_str())
        .map_err(|_| format!("algorithm {} is not argon2", hash.algorithm.as_str()))?;
    argon2::Params::try_from(&hash).map_err(|e| format!("parameters: {e}"))?;
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err("no salt or no hash".into());
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String> {
    // The salt from the OS generator; `hash_password` would panic if it
    // failed, this reports it.
    let salt = argon2::password_hash::try_generate_salt()
        .map_err(|e| Error::Other(format!("cannot get a random salt: {e}")))?;
    let hash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| Error::Other(format!("cannot hash the password: {e}")))?;
    Ok(hash.to_string())
}

fn verify_hash(hash: &str, password: &str) -> bool {
    // Parameters, algorithm and salt come from the PHC string.
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

fn file_error(
    path: &Path,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::UsersFile {
        path: path.to_path_buf(),
        message,
        source,
    }
}

/// `toml`'s message names the line, column and key; kept on one line so
/// it reads well after the path.
fn one_line_toml_error(e: &toml::de::Error) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|")
        .collect::<Vec<_>>()
        .join(" ")
        .replace("TOML parse error", "invalid users file")
}

/// A serve started on a users file others may read gets a warning: its
/// hashes can be attacked offline.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{}: the users file is mode {mode:o}; make it 0600 (chmod 600), \
                     its password hashes can be guessed at offline",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Writes `bytes` to `dest` through a temporary file beside it that is
/// 0600 from creation (`tempfile` makes it so), then renames it into place
/// with [`crate::atomic::persist`].
fn write_private(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "users".into());
    let fail = |what: &str, e: std::io::Error| {
        file_error(
            dest,
            format!("cannot write the users file: {what}: {e}"),
            Some(Box::new(e)),
        )
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| fail(&format!("cannot create a file in {}", dir.display()), e))?;
    crate::atomic::set_mode(tmp.path(), USERS_FILE_MODE)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| fail("write", e))?;
    crate::atomic::persist(tmp.into_temp_path(), dest)
}

/// The new password of `name`: from the terminal without echo, asked
/// twice (the two must match); when stdin is not a terminal, its first
/// line (the line end removed), for scripts.
pub fn read_new_password(name: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::Usage(format!("cannot read the password from stdin: {e}")))?;
        return Ok(strip_line_end(line));
    }
    let ask = |prompt: String| {
        rpassword::prompt_password(prompt)
            .map_err(|e| Error::Usage(format!("cannot read the password: {e}")))
    };
    let first = ask(format!("password for {name}: "))?;
    let second = ask(format!("password for {name} (again): "))?;
    if first != second {
        return Err(Error::Usage("the two passwords differ".into()));
    }
    Ok(first)
}

fn strip_line_end(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One hash made once for the whole test module (argon2 is slow).
    fn anna_hash() -> &'static str {
        static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        HASH.get_or_init(|| hash_password("correct horse").unwrap())
    }

    fn file_with(entries: &str) -> String {
        format!("{HEADER}{entries}")
    }

    fn anna_entry(role: &str) -> String {
        format!(
            "[[user]]\nname = \"anna\"\nrole = \"{role}\"\npassword = \"{}\"\n",
            anna_hash()
        )
    }

    fn parse_err(text: &str) -> String {
        Users::parse(text, Path::new("/etc/callsift/users.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn dummy_hash_is_a_default_argon2id_hash() {
        check_hash(DUMMY_HASH).unwrap();
        let ours = PasswordHash::new(anna_hash()).unwrap();
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        // Same cost as a real user's hash, or timing tells names apart.
        assert_eq!(ours.algorithm, dummy.algorithm);
        assert_eq!(ours.params, dummy.params);
        assert_eq!(ours.version, dummy.version);
    }

    #[test]
    fn verify_takes_the_right_password_only() {
        let users =
            Users::parse(&file_with(&anna_entry("reviewer")), Path::new("users.toml")).unwrap();
        let anna = users.verify("anna", "correct horse").unwrap();
        assert_eq!(anna.name, "anna");
        assert_eq!(anna.role, Role::Reviewer);
        assert!(users.verify("anna", "correct horsE").is_none());
        assert!(users.verify("bob", "correct horse").is_none());
        assert!(users.verify("Anna", "correct horse").is_none());
    }

    #[test]
    fn add_hashes_and_save_load_round_trips_at_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let mut users = Users::load_or_empty(&path).unwrap();
        assert!(users.is_empty());
        assert!(!users.add("zoe", Role::Viewer, "zoe's password").unwrap());
        users.users.push(User {
            name: "anna".into(),
            role: Role::Reviewer,
            hash: anna_hash().into(),
        });
        users.users.sort_by(|a, b| a.name.cmp(&b.name));
        users.save().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(HEADER), "{text}");
        assert!(text.contains("$argon2id$"), "{text}");
        assert!(!text.contains("zoe's password"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");

        let mut again = Users::load(&path).unwrap();
        let listed: Vec<_> = again.list().map(|u| (u.name.clone(), u.role)).collect();
        assert_eq!(
            listed,
            [
                ("anna".into(), Role::Reviewer),
                ("zoe".into(), Role::Viewer)
            ]
        );
        assert!(again.verify("zoe", "zoe's password").is_some());
        assert!(again.remove("zoe"));
        assert!(!again.remove("zoe"));
        assert_eq!(again.list().count(), 1);
    }

    #[test]
    fn add_replaces_a_user_and_refuses_bad_names_and_short_passwords() {
        let mut users = Users::parse(&file_with(&anna_entry("viewer")), Path::new("u")).unwrap();
        for bad in ["", "a b", "anna/..", "ünal", &"x".repeat(65)] {
            let err = users.add(bad, Role::Viewer, "long enough").unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{bad:?}: {err}");
        }
        let err = users.add("bob", Role::Viewer, "seven77").unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err}");
        assert!(err.to_string().contains("too short"), "{err}");
        check_name(&"x".repeat(64)).unwrap();
        check_name("a.b_c-D9").unwrap();
        assert!(users.add("anna", Role::Reviewer, "a new password").unwrap());
        assert_eq!(users.list().count(), 1);
        let anna = users.verify("anna", "a new password").unwrap();
        assert_eq!(anna.role, Role::Reviewer);
    }

    #[test]
    fn bad_files_are_refused_naming_path_and_line() {
        let path = "/etc/callsift/users.toml";
        // Broken TOML: toml's message, with the line.
        let err = parse_err("[[user]\nname = 1\n");
        assert!(err.starts_with(path), "{err}");
        assert!(err.contains("line 1"), "{err}");
        // A role that does not exist.
        let text = file_with(&anna_entry("admin"));
        let err = parse_err(&text);
        assert!(err.starts_with(path) && err.contains("admin"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        // A key that is not ours.
        let err = parse_err(&file_with(
            "[[user]]\nname = \"a\"\nrole = \"viewer\"\npasswd = \"x\"\n",
        ));
        assert!(err.starts_with(path) && err.contains("passwd"), "{err}");
        // A bad name, on line 3.
        let text = file_with(&anna_entry("viewer").replace("\"anna\"", "\"an na\""));
        let err = parse_err(&text);
        assert!(err.starts_with(path), "{err}");
        assert!(err.contains("line 3") && err.contains("an na"), "{err}");
    }

    #[test]
    fn duplicate_names_and_non_argon2_passwords_are_refused() {
        let text = file_with(&format!(
            "{}\n{}",
            anna_entry("viewer"),
            anna_entry("reviewer")
        ));
        let err = parse_err(&text);
        assert!(
            err.contains("line 8") && err.contains("anna is listed twice"),
            "{err}"
        );

        let plaintext = "[[user]]\nname = \"bob\"\nrole = \"viewer\"\npassword = \"hunter22\"\n";
        let bcrypt = plaintext.replace(
            "hunter22",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        );
        let pbkdf2 = plaintext.replace("hunter22", "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaA");
        let no_hash = plaintext.replace("hunter22", "$argon2id$v=19$m=19456,t=2,p=1");
        for text in [plaintext.to_string(), bcrypt, pbkdf2, no_hash] {
            let err = parse_err(&file_with(&text));
            assert!(err.starts_with("/etc/callsift/users.toml"), "{err}");
            assert!(
                err.contains("line 5") && err.contains("not an argon2"),
                "{err}"
            );
            assert!(
                !err.contains("hunter22"),
                "the value is not repeated: {err}"
            );
        }
    }

    #[test]
    fn a_missing_file_is_an_error_for_load_and_empty_for_add() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nobody.toml");
        let err = Users::load(&path).unwrap_err().to_string();
        assert!(err.contains(&*path.to_string_lossy()), "{err}");
        assert!(err.contains("users add"), "{err}");
        assert!(Users::load_or_empty(&path).unwrap().is_empty());
        // A directory where the file should be: not "missing".
        let err = Users::load_or_empty(dir.path()).unwrap_err().to_string();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn an_empty_file_is_no_users() {
        assert!(Users::parse("", Path::new("u")).unwrap().is_empty());
        assert!(Users::parse(HEADER, Path::new("u")).unwrap().is_empty());
    }

    #[test]
    fn the_line_end_is_removed_from_a_piped_password() {
        assert_eq!(strip_line_end("secret pw\n".into()), "secret pw");
        assert_eq!(strip_line_end("secret pw\r\n".into()), "secret pw");
        assert_eq!(strip_line_end("secret pw".into()), "secret pw");
        assert_eq!(strip_line_end(" spaced \n".into()), " spaced ");
    }

    #[test]
    fn debug_output_hides_the_hash() {
        let users = Users::parse(&file_with(&anna_entry("viewer")), Path::new("u")).unwrap();
        let shown = format!("{users:?}");
        assert!(
            shown.contains("anna") && !shown.contains("argon2"),
            "{shown}"
        );
    }
}
