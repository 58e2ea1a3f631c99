//! `callsift users` as an operator uses it: add with the password piped
//! on stdin, list, update, remove; the file is 0600 and holds an argon2id
//! hash, never the password; bad passwords, names and files are refused
//! with the right exit code and a message naming what is wrong.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::bin;

fn users(args: &[&str], file: &Path, stdin: &str) -> assert_cmd::assert::Assert {
    let mut cmd = bin();
    cmd.arg("users").args(args).arg("--users").arg(file);
    cmd.write_stdin(stdin).assert()
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

#[test]
fn add_list_update_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    let password = "s3cret-horse-battery";

    let a = users(
        &["add", "anna", "--role", "reviewer"],
        &file,
        &format!("{password}\n"),
    )
    .success();
    let err = stderr(&a);
    assert!(
        err.contains(&format!("added user anna (reviewer) to {}", file.display())),
        "{err}"
    );

    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("$argon2id$"), "{text}");
    assert!(!text.contains(password), "{text}");

    users(&["add", "bob"], &file, "another password\n").success();
    let a = users(&["list"], &file, "").success();
    assert_eq!(stdout(&a), "anna\treviewer\nbob\tviewer\n");

    let a = users(
        &["add", "bob", "--role", "reviewer"],
        &file,
        "new password\r\n",
    )
    .success();
    assert!(
        stderr(&a).contains("updated user bob (reviewer)"),
        "{}",
        stderr(&a)
    );
    let a = users(&["remove", "anna"], &file, "").success();
    assert!(stderr(&a).contains("removed user anna"), "{}", stderr(&a));
    let a = users(&["list"], &file, "").success();
    assert_eq!(stdout(&a), "bob\treviewer\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "still 0600 after rewrites");
}

#[test]
fn a_short_password_or_bad_name_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    let a = users(&["add", "anna"], &file, "short\n").code(2);
    assert!(stderr(&a).contains("too short"), "{}", stderr(&a));
    let a = users(&["add", "anna"], &file, "").code(2);
    assert!(stderr(&a).contains("too short"), "{}", stderr(&a));
    let a = users(&["add", "an/na"], &file, "long enough pw\n").code(2);
    assert!(stderr(&a).contains("an/na"), "{}", stderr(&a));
    assert!(!file.exists(), "nothing written");
}

#[test]
fn removing_an_unknown_user_names_it_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    users(&["add", "anna"], &file, "long enough pw\n").success();
    let a = users(&["remove", "bob"], &file, "").code(1);
    let err = stderr(&a);
    assert!(err.contains("bob"), "{err}");
    assert!(err.contains(&*file.to_string_lossy()), "{err}");
    let a = users(&["list"], &file, "").success();
    assert_eq!(stdout(&a), "anna\tviewer\n");
}

#[test]
fn a_broken_or_missing_file_is_fatal_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.toml");
    let a = users(&["list"], &file, "").code(1);
    assert!(
        stderr(&a).contains(&*file.to_string_lossy()),
        "{}",
        stderr(&a)
    );

    std::fs::write(&file, "[[user]]\nname = \"anna\"\nrole = \"admin\"\n").unwrap();
    for args in [&["list"][..], &["add", "bob"], &["remove", "anna"]] {
        let a = users(args, &file, "long enough pw\n").code(1);
        let err = stderr(&a);
        assert!(err.contains(&*file.to_string_lossy()), "{args:?}: {err}");
        assert!(err.contains("line 3"), "{args:?}: {err}");
    }
}
