//! The `churnsaver` binary's operator interface, run as operators and external checks run it.

#![expect(clippy::unwrap_used, reason = "test set-up")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn churnsaver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_churnsaver"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The exit code and the trimmed stdout, to compare with an expected pair.
fn outcome(output: &Output) -> (Option<i32>, String) {
    (output.status.code(), stdout(output))
}

/// A body in a temporary file, removed when dropped.
struct BodyFile(PathBuf);

impl std::ops::Deref for BodyFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for BodyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn body_file(contents: &str) -> BodyFile {
    let path = std::env::temp_dir().join(format!(
        "churnsaver-body-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, contents).unwrap();
    BodyFile(path)
}

/// `--header` arguments from `sign`'s output lines.
fn header_args(signed: &str) -> Vec<String> {
    signed
        .lines()
        .flat_map(|line| ["--header".to_owned(), line.to_owned()])
        .collect()
}

/// `churnsaver webhook <action>` for a provider, secret and body file, then `more` arguments.
fn webhook(action: &str, provider: &str, secret: &str, body: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "webhook",
        action,
        "--provider",
        provider,
        "--secret",
        secret,
        "--body-file",
        body.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    churnsaver(&args)
}

fn verify(
    provider: &str,
    secret: &str,
    headers: &[String],
    body: &Path,
    now: Option<&str>,
) -> Output {
    let mut more: Vec<&str> = headers.iter().map(String::as_str).collect();
    if let Some(now) = now {
        more.extend(["--now", now]);
    }
    webhook("verify", provider, secret, body, &more)
}

const SECRETS: [(&str, &str); 3] = [
    (
        "whop",
        "ws_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ),
    ("stripe", "whsec_abc123"),
    ("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
];

#[test]
fn sign_then_verify_is_valid_for_every_provider() {
    let body = body_file(r#"{"type":"membership.activated","data":{"id":"mem_1"}}"#);
    for (provider, secret) in SECRETS {
        let signed = webhook("sign", provider, secret, &body, &[]);
        assert!(signed.status.success(), "{provider}: {signed:?}");
        assert!(
            stdout(&signed).lines().all(|l| l.contains(": ")),
            "{provider}: one `Name: value` per line"
        );

        let verified = verify(
            provider,
            secret,
            &header_args(&stdout(&signed)),
            &body,
            None,
        );

        assert_eq!(
            outcome(&verified),
            (Some(0), "valid".to_owned()),
            "{provider}"
        );
    }
}

#[test]
fn sign_reproduces_the_standard_webhooks_vector() {
    let body = body_file(r#"{"test": 2432232314}"#);
    let signed = webhook(
        "sign",
        "standard",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &body,
        &[
            "--id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "--timestamp",
            "1614265330",
        ],
    );
    assert_eq!(
        stdout(&signed),
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\nwebhook-timestamp: 1614265330\nwebhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn verifies_the_stripe_vector_as_of_its_time() {
    let body = body_file(r#"{"id":"evt_1","object":"event","type":"checkout.session.completed"}"#);
    let headers = ["--header".to_owned(), "Stripe-Signature: t=1712345678,v1=8f4ed0fd89c6c66fa3edddcbba154dd44ca276b9d4bb995dc91090c206c298f1".to_owned()];

    let valid = verify(
        "stripe",
        "whsec_abc123",
        &headers,
        &body,
        Some("1712345678"),
    );
    let stale = verify(
        "stripe",
        "whsec_abc123",
        &headers,
        &body,
        Some("1712345979"),
    );

    assert_eq!(outcome(&valid), (Some(0), "valid".to_owned()));
    assert_eq!(
        outcome(&stale),
        (Some(1), "invalid: timestamp_out_of_tolerance".to_owned())
    );
}

#[test]
fn a_tampered_body_or_missing_header_prints_its_reason_and_exits_1() {
    let body = body_file(r#"{"type":"payment.failed"}"#);
    let signed = webhook("sign", "whop", SECRETS[0].1, &body, &[]);
    let tampered = body_file(r#"{"type":"payment.succeeded"}"#);

    let forged = verify(
        "whop",
        SECRETS[0].1,
        &header_args(&stdout(&signed)),
        &tampered,
        None,
    );
    let headerless = verify("whop", SECRETS[0].1, &[], &body, None);

    assert_eq!(
        outcome(&forged),
        (Some(1), "invalid: no_matching_signature".to_owned())
    );
    assert_eq!(
        outcome(&headerless),
        (Some(1), "invalid: missing_header".to_owned())
    );
}

#[test]
fn whop_legacy_signatures_verify() {
    let body = body_file(
        r#"{"action":"membership.went_valid","api_version":"v5","data":{"id":"mem_123"}}"#,
    );
    let headers = ["--header".to_owned(), "x-whop-signature: t=1735689600,v1=2dd9214707adc802a85e6e9769f9758999e6c110218f26befae83ebe64389f19".to_owned()];

    let verified = verify("whop", SECRETS[0].1, &headers, &body, Some("1735689600"));

    assert_eq!(stdout(&verified), "valid");
}

#[test]
fn config_check_lists_every_problem_with_its_fix() {
    let output = Command::new(env!("CARGO_BIN_EXE_churnsaver"))
        .args(["config", "check"])
        .env_clear()
        .env("STAGE", "prod")
        .env("WHOP_APP_ID", "biz_1")
        .output()
        .unwrap();

    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1));
    for var in [
        "WHOP_APP_ID",
        "STATE_TABLE",
        "EVENTS_QUEUE_URL",
        "SESSION_KEYS_SECRET_ID",
    ] {
        assert!(
            text.contains(&format!("✗ {var}:")),
            "{var} missing from:\n{text}"
        );
    }
    assert!(text.contains("fix:"), "{text}");
}

#[test]
fn stack_commands_without_a_stack_say_how_to_reach_one() {
    // An empty tools dir, so a local stack running on this machine cannot be picked up.
    let tools = std::env::temp_dir().join(format!(
        "churnsaver-tools-{}",
        uuid::Uuid::new_v4().simple()
    ));
    for args in [
        &["dlq", "peek"][..],
        &["state", "show", "mem_1"],
        &["keys", "rotate"],
        &["sync", "status"],
        &["breaker", "status"],
        &["breaker", "reset", "whop"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_churnsaver"))
            .args(args)
            .env_remove("STATE_TABLE")
            .env("CHURNSAVER_TOOLS_DIR", &tools)
            .output()
            .unwrap();

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        for hint in ["STATE_TABLE", "no running local stack", "cargo local"] {
            assert!(stderr.contains(hint), "{hint} missing from:\n{stderr}");
        }
    }
    assert!(!tools.exists());
}

#[test]
fn breaker_reset_refuses_a_name_that_is_not_a_provider() {
    let output = Command::new(env!("CARGO_BIN_EXE_churnsaver"))
        .args(["breaker", "reset", "whop-api"])
        .env_remove("STATE_TABLE")
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`whop-api` is not a provider")
            && stderr.contains("whop, stripe, gumroad, paypal"),
        "{stderr}"
    );
}

/// `churnsaver args` with `env` set and `stdin` piped in.
fn churnsaver_with(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_churnsaver"))
        .args(args)
        .env_remove("CHURNSAVER_WEBHOOK_SECRET")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn secrets_come_from_the_environment_or_standard_input_as_from_the_argument() {
    let body = body_file(r#"{"test": 2432232314}"#);
    let body = body.to_str().unwrap();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let sign = [
        "webhook",
        "sign",
        "--provider",
        "standard",
        "--body-file",
        body,
        "--id",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "--timestamp",
        "1614265330",
    ];
    let by_argument = churnsaver_with(&[&sign[..], &["--secret", secret]].concat(), &[], "");
    let by_env = churnsaver_with(&sign, &[("CHURNSAVER_WEBHOOK_SECRET", secret)], "");
    let by_stdin = churnsaver_with(
        &[&sign[..], &["--secret-stdin"]].concat(),
        &[],
        &format!("{secret}\n"),
    );
    assert!(by_argument.status.success(), "{by_argument:?}");
    assert_eq!(outcome(&by_env), outcome(&by_argument));
    assert_eq!(outcome(&by_stdin), outcome(&by_argument));

    // Verify takes several, one per line on standard input or comma-separated in the
    // environment (a rotation: the old secret first).
    let headers = header_args(&stdout(&by_argument));
    let mut verify: Vec<&str> = vec![
        "webhook",
        "verify",
        "--provider",
        "standard",
        "--body-file",
        body,
        "--now",
        "1614265330",
    ];
    verify.extend(headers.iter().map(String::as_str));
    let old = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let stdin = churnsaver_with(
        &[&verify[..], &["--secret-stdin"]].concat(),
        &[],
        &format!("{old}\n{secret}\n"),
    );
    assert_eq!(outcome(&stdin), (Some(0), "valid".to_owned()));
    let env = churnsaver_with(
        &verify,
        &[("CHURNSAVER_WEBHOOK_SECRET", &format!("{old},{secret}"))],
        "",
    );
    assert_eq!(outcome(&env), (Some(0), "valid".to_owned()));
    let wrong = churnsaver_with(&verify, &[("CHURNSAVER_WEBHOOK_SECRET", old)], "");
    assert_eq!(wrong.status.code(), Some(1));

    // No secret anywhere: an error naming the three ways; two for `sign`: refused.
    let none = churnsaver_with(&sign, &[], "");
    assert!(!none.status.success());
    let message = String::from_utf8_lossy(&none.stderr);
    assert!(
        message.contains("CHURNSAVER_WEBHOOK_SECRET") && message.contains("--secret-stdin"),
        "{message}"
    );
    let two = churnsaver_with(
        &sign,
        &[("CHURNSAVER_WEBHOOK_SECRET", &format!("{old},{secret}"))],
        "",
    );
    assert!(!two.status.success());
}
