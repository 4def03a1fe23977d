//! Fuzzes the config loader, `hotlist_matcher::config::Config::from_toml`
//! (TOML text to a validated `Config`), with arbitrary UTF-8 text and a fixed
//! in-memory environment: no process environment is read. It asserts that
//! loading never panics and that an accepted config keeps the documented
//! bounds (retention at most 30 days, unique legal topic names, at least one
//! partition). Inputs whose webhooks name a `secret_file` or `ca_file`, or
//! whose `[security]` names a `key_file`, are skipped, because validating those reads the named file (a fuzzer-made
//! `/dev/zero` or `/dev/stdin` would hang): file I/O stays out of the target.
#![no_main]

use hotlist_matcher::config::{Config, RETENTION_DAYS_MAX};
use libfuzzer_sys::fuzz_target;

/// The only environment the loader sees: one webhook secret (the seeds'
/// webhooks use `secret_env = "HOTLIST_WEBHOOK_SECRET"`).
fn env() -> [(String, String); 1] {
    [(
        "HOTLIST_WEBHOOK_SECRET".to_owned(),
        "fuzz-webhook-secret-0123456789".to_owned(),
    )]
}

/// True when some `[[dispatch.webhooks]]` names a file to read.
fn reads_files(text: &str) -> bool {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return false;
    };
    let key_file = table
        .get("security")
        .and_then(|s| s.get("key_file"))
        .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()));
    let webhooks = table
        .get("dispatch")
        .and_then(|d| d.get("webhooks"))
        .and_then(|w| w.as_array());
    key_file
        || webhooks.is_some_and(|hooks| {
            hooks.iter().any(|hook| {
                ["secret_file", "ca_file"].iter().any(|key| {
                    hook.get(key)
                        .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()))
                })
            })
        })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if reads_files(text) {
        return;
    }
    match Config::from_toml(text, env()) {
        Err(e) => {
            let _ = e.to_string();
        }
        Ok(config) => {
            let days = config.topics.retention.as_secs() / 86_400;
            assert!(
                (1..=u64::from(RETENTION_DAYS_MAX)).contains(&days),
                "retention {days} days"
            );
            assert!(config.topics.partitions >= 1);
            let t = &config.topics;
            let names = [
                &t.reads,
                &t.alerts,
                &t.dlq,
                &t.hotlist,
                &t.principals,
                &t.audit,
                &t.alert_state,
                &t.webhook_dlq,
            ];
            let unique: std::collections::BTreeSet<_> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "two topics share a name");
            assert!(!config.kafka.bootstrap_servers.trim().is_empty());
            for hook in &config.dispatch.webhooks {
                assert!(hook.url.starts_with("https://"), "webhook url {:?}", hook.url);
                assert!(hook.secret.0.len() >= 16);
                assert!(hook.ca_pem.is_none(), "a ca_file was read");
            }
            let _ = format!("{config:?}");
        }
    }
});
