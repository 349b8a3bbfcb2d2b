//! Credentials in index URLs must never reach the terminal.

mod support;

use support::{TestEnv, describe_output, run};

#[test]
fn index_password_is_redacted_in_errors() {
    let env = TestEnv::new();
    // A port nothing listens on: the connection is refused and the error names the URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://alice:s3cr3t-token@127.0.0.1:{port}/simple/");
    let out = run(env
        .cmd()
        .args(["lock", "--dry-run", "--index-url", &url, "foo"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("s3cr3t-token"), "password leaked: {all}");
    assert!(
        all.contains("alice:****@127.0.0.1"),
        "the redacted URL should be named: {all}"
    );
}

#[test]
fn token_only_credentials_are_redacted_too() {
    let env = TestEnv::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://ghp_abcdef123456@127.0.0.1:{port}/simple/");
    let out = run(env
        .cmd()
        .args(["lock", "--dry-run", "--index-url", &url, "foo"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe_output(&out));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("ghp_abcdef123456"), "token leaked: {all}");
}
