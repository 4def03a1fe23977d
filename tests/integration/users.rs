//! `users add` bootstraps the first custodian into the principals topic.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use hotlist_matcher::access::auth::{verify_password, AuthError, Role};
use hotlist_matcher::access::principals::Principals;
use rdkafka::Message;

use crate::common;

fn add_user(config_path: &std::path::Path, args: &[&str], password: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args([
            "--config",
            config_path.to_str().unwrap(),
            "users",
            "add",
            "--password-stdin",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_custodian_is_added_with_an_argon2id_hash_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("users");
    let (config_path, config) = common::config_file(dir.path(), &prefix);
    let manager = [
        "--username",
        "city.manager",
        "--organisation",
        "City of Coachella",
        "--actor",
        "installer",
    ];
    let weak = add_user(&config_path, &manager, "short");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("a password is 12 to 256 characters"));
    let officer = add_user(
        &config_path,
        &[
            "--username",
            "deputy",
            "--organisation",
            "RSO",
            "--role",
            "officer",
            "--actor",
            "installer",
        ],
        "a long enough password",
    );
    assert!(!officer.status.success(), "the command line adds custodians only");

    let added = add_user(&config_path, &manager, "correct horse battery staple");
    let stderr = String::from_utf8_lossy(&added.stderr);
    assert!(added.status.success(), "{stderr}");
    assert!(
        !stderr.contains("correct horse"),
        "the password is never logged: {stderr}"
    );

    let reader = common::reader(&config, &config.topics.principals);
    let mut records = Vec::new();
    common::drain_until(&reader, &mut records, Duration::from_secs(30), |m| !m.is_empty()).await;
    common::drain_until(&reader, &mut records, Duration::from_secs(1), |_| false).await;
    assert_eq!(records.len(), 1, "only the custodian was written to the principals");
    let mut principals = Principals::default();
    let record = &records[0];
    let key = std::str::from_utf8(record.key().unwrap()).unwrap();
    principals.apply(key, record.payload()).unwrap();
    let user = principals.user("city.manager").expect("the custodian");
    assert_eq!(user.role, Role::Custodian);
    assert_eq!(user.organisation, "City of Coachella");
    assert!(user.password_hash.starts_with("$argon2id$"));
    assert_eq!(
        verify_password("correct horse battery staple", &user.password_hash),
        Ok(())
    );
    assert_eq!(
        verify_password("wrong", &user.password_hash),
        Err(AuthError::BadCredentials)
    );

    // Penetration test: the acting user came from $USER. Now it is named,
    // and once a custodian exists it must be one.
    let second = [
        "--username",
        "second.manager",
        "--organisation",
        "City of Coachella",
        "--actor",
        "mallory",
    ];
    let refused = add_user(&config_path, &second, "another long password");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--actor mallory is not an enabled custodian"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let by_manager = [
        "--username",
        "second.manager",
        "--organisation",
        "City of Coachella",
        "--actor",
        "city.manager",
    ];
    let added = add_user(&config_path, &by_manager, "another long password");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let audit = common::audit_log(&config);
    let names: Vec<&str> = audit.iter().map(|r| r.event.username.as_str()).collect();
    assert_eq!(names, ["installer", "city.manager"]);
}

/// Upgrading to signed principals (issue 12): records written before they
/// were signed are refused, until a custodian runs `users sign-existing`,
/// which signs them; an unsigned record written for a key the service had
/// already signed (a forgery) stays unsigned and refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sign_existing_signs_the_records_written_before_signing_and_no_forgery() {
    use hotlist_matcher::access::auth::hash_password;
    use hotlist_matcher::access::principals::User;
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("sign-existing");
    let (config_path, config) = common::config_file(dir.path(), &prefix);
    common::create_topics(&config).await;
    let hash = hash_password("an old long password").unwrap();
    let (old_key, old) = User::new("old.manager", "City of Coachella", Role::Custodian, hash.clone())
        .unwrap()
        .record();
    let writer = hotlist_matcher::kafka::principals::Writer::new(&config).unwrap();
    let (signed_key, signed) = User::new("deputy", "RSO", Role::Officer, hash.clone())
        .unwrap()
        .record();
    writer.write(&signed_key, Some(&signed)).await.unwrap();
    let (_, forged) = User::new("deputy", "RSO", Role::Custodian, hash).unwrap().record();
    common::produce_keyed(
        &config,
        &config.topics.principals,
        &[old_key, signed_key],
        &[old, forged],
    )
    .await;
    let load = {
        let config = config.clone();
        move || {
            hotlist_matcher::kafka::principals::load(&config, &hotlist_matcher::metrics::Metrics::new())
                .unwrap()
                .0
        }
    };
    let before = tokio::task::spawn_blocking(load.clone()).await.unwrap();
    assert!(before.user("old.manager").is_none(), "unsigned: refused");
    assert_eq!(before.user("deputy").map(|u| u.role), Some(Role::Officer));

    let out = Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args([
            "--config",
            config_path.to_str().unwrap(),
            "users",
            "sign-existing",
            "--actor",
            "old.manager",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("signed 1 principal record(s) on {}", config.topics.principals)
    );
    let after = tokio::task::spawn_blocking(load).await.unwrap();
    assert_eq!(after.user("old.manager").map(|u| u.role), Some(Role::Custodian));
    assert_eq!(
        after.user("deputy").map(|u| u.role),
        Some(Role::Officer),
        "the forged promotion was not signed"
    );
    let audit = common::audit_log(&config);
    assert_eq!(audit.last().map(|r| r.event.action.as_str()), Some("principals_signed"));
}
