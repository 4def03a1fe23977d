//! The clerk's and the on-call engineer's hotlist commands against a real
//! broker: `hotlist upload --dry-run` and `--skip-invalid`, `hotlist lists`,
//! an entry's `effective_at` through the topic, and `serve` with no static
//! hotlist file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::SubsecRound;

use hotlist_matcher::config::Config;
use hotlist_matcher::hotlist::feed::{self, FeedOptions, Format};
use hotlist_matcher::hotlist::{Category, CsvLimits, Matcher};
use hotlist_matcher::kafka::hotlist as kafka_hotlist;
use tokio_util::sync::CancellationToken;

use crate::common;

/// `hotlist-matcher --config CONFIG hotlist ARGS...` as a custodian.
fn hotlist_cli(config_path: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["--config", config_path.to_str().unwrap(), "hotlist"])
        .args(args)
        .env("HOTLIST_ACTOR", "city.manager")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error:"), "{stderr}");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Total high watermark of the hotlist topic: what has ever been written.
fn written(config: &Config) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = hotlist_matcher::kafka::client_config(&config.kafka).create().unwrap();
    (0..config.topics.partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(&config.topics.hotlist, p, Duration::from_secs(10))
                .unwrap()
                .1
        })
        .sum()
}

fn ncic(text: &str, list: &str) -> Vec<Arc<hotlist_matcher::hotlist::HotlistEntry>> {
    let options = FeedOptions {
        list_id: list.into(),
        category: Category::StolenVehicle,
        limits: CsvLimits::default(),
    };
    feed::parse(text.as_bytes(), &Format::NcicFields, &options).unwrap()
}

/// The entry ids the topic holds for `list`, sorted.
fn entry_ids(config: &Config, list: &str) -> Vec<String> {
    let (records, _) = kafka_hotlist::records(config).unwrap();
    records
        .values()
        .filter(|r| r.list_id == list)
        .map(|r| r.entry_id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_and_reports_exactly_the_diff() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, config) = common::config_file(dir.path(), &common::unique("dryrun"));
    common::create_topics(&config).await;
    let live = "LIC/AAA111.LIS/CA.NIC/V1\nLIC/BBB222.LIS/CA.NIC/V2\nLIC/CCC333.LIS/CA.NIC/V3\n";
    kafka_hotlist::upload(&config, "ca-doj", &ncic(live, "ca-doj"), "CA DOJ", false)
        .await
        .unwrap();
    let before = written(&config);
    let nightly = dir.path().join("nightly.ncic");
    std::fs::write(
        &nightly,
        "LIC/AAA111.LIS/CA.NIC/V1\nLIC/BBB228.LIS/CA.NIC/V2\nLIC/DDD444.LIS/NV.NIC/V4\nLIC/EEE555.LIS/CA.NIC/V5\n",
    )
    .unwrap();
    let file = nightly.to_str().unwrap();
    let args = ["upload", file, "--list", "ca-doj", "--format", "ncic"];
    let (code, stdout) = hotlist_cli(
        &config_path,
        &[
            &args[..],
            &["--reason", "check the nightly file", "--dry-run", "--show", "1"],
        ]
        .concat(),
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        stdout,
        "dry run, nothing written: list ca-doj would get 2 added, 1 changed, 1 removed, 1 unchanged\n\
         \x20 added    V4 DDD444\n\
         \x20 changed  V2 BBB228 (plate)\n\
         \x20 removed  V3 CCC333\n"
    );
    assert_eq!(written(&config), before, "not one record written to the hotlist topic");
    assert_eq!(entry_ids(&config, "ca-doj"), ["V1", "V2", "V3"]);
    let audit = common::audit_log(&config);
    assert!(audit.iter().any(|r| r.event.action == "hotlist_upload_dry_run"));

    // A bad file: exit 2 with every bad line, and still nothing written.
    let bad = dir.path().join("bad.ncic");
    std::fs::write(&bad, "LIC/AAA111.NIC/V1\nLIC/BAD#1.NIC/V9\n").unwrap();
    let (code, stdout) = hotlist_cli(
        &config_path,
        &[
            "upload",
            bad.to_str().unwrap(),
            "--list",
            "ca-doj",
            "--format",
            "ncic",
            "--reason",
            "check the nightly file",
            "--dry-run",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(stdout.contains("line 2, column plate"), "{stdout}");
    assert_eq!(written(&config), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_invalid_applies_exactly_the_valid_rows_and_refuses_above_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, config) = common::config_file(dir.path(), &common::unique("skip"));
    common::create_topics(&config).await;
    let mut lines: Vec<String> = (0..200).map(|i| format!("LIC/ABC{i}.LIS/CA.NIC/V{i:03}")).collect();
    lines[10] = "LIC/BAD#10.NIC/V010".into();
    let file = dir.path().join("one-bad.ncic");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let upload = |file: &Path| {
        hotlist_cli(
            &config_path,
            &[
                "upload",
                file.to_str().unwrap(),
                "--list",
                "ca-doj",
                "--format",
                "ncic",
                "--reason",
                "nightly with a typo",
                "--skip-invalid",
            ],
        )
    };
    let (code, stdout) = upload(&file);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        stdout,
        "skipped line 11, column plate: plate has a character that cannot be on a plate (U+0023) at position 3\n\
         list ca-doj: 199 added, 0 changed, 0 removed, 0 unchanged; 0 historical alert(s) from retained reads\n\
         1 bad row(s) skipped (listed above)\n"
    );
    let expected: Vec<String> = (0..200).filter(|i| *i != 10).map(|i| format!("V{i:03}")).collect();
    assert_eq!(entry_ids(&config, "ca-doj"), expected, "exactly the valid rows");

    // Three bad rows of 200 is 1.5%, above the default 1%: refused whole.
    let before = written(&config);
    lines[20] = "LIC/BAD#20.NIC/V020".into();
    lines[30] = "LIC/BAD#30.NIC/V030".into();
    let file = dir.path().join("three-bad.ncic");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (code, stdout) = upload(&file);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.starts_with("nothing uploaded: 3 of 200 row(s) are bad, more than the 1% that may be skipped"),
        "{stdout}"
    );
    assert_eq!(written(&config), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotlist_lists_shows_three_lists_of_different_owners_and_ages() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, config) = common::config_file(dir.path(), &common::unique("lists"));
    common::create_topics(&config).await;
    let now = chrono::Utc::now().trunc_subsecs(0);
    let ages = [
        ("amber", "CHP", 1, "amber"),
        ("doj", "CA DOJ", 30, "stolen_vehicle"),
        ("rso", "RSO", 72, "bolo"),
    ];
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    for (list, owner, hours, category) in ages {
        for n in 0..hours.min(3) {
            let entry = serde_json::json!({"entry_id": format!("e{n}"), "list_id": list, "plate": format!("ABC{n}{hours}"),
                "region": null, "category": category, "priority": 5, "description": ""});
            keys.push(format!("{list}/e{n}"));
            values.push(entry.to_string().into_bytes());
        }
        let meta = serde_json::json!({"list_id": list, "organisation": owner, "entries": hours.min(3),
            "refreshed_at": now - chrono::Duration::hours(hours), "covert": list == "rso"});
        keys.push(format!("#list/{list}"));
        values.push(meta.to_string().into_bytes());
    }
    common::produce_keyed(&config, &config.topics.hotlist, &keys, &values).await;
    let (code, stdout) = hotlist_cli(&config_path, &["lists"]);
    assert_eq!(code, Some(0));
    let at = |hours| (now - chrono::Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let expected = [
        "LIST                     OWNER                CATEGORY           ENTRIES  REFRESHED                 STALE COVERT".to_string(),
        format!("amber                    CHP                  amber                    1  {}      no    no", at(1)),
        format!("doj                      CA DOJ               stolen_vehicle           3  {}      yes   no", at(30)),
        format!("rso                      RSO                  bolo                     3  {}      yes   yes", at(72)),
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_with_a_future_effective_at_matches_only_from_then() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(&common::unique("effective"), &dir.path().join("h.csv"), 1000);
    common::create_topics(&config).await;
    let from = chrono::DateTime::parse_from_rfc3339("2026-12-07T14:00:00Z")
        .unwrap()
        .to_utc();
    let now = Arc::new(AtomicI64::new(from.timestamp() - 3600));
    let clock: hotlist_matcher::Clock = {
        let now = Arc::clone(&now);
        Arc::new(move || std::time::UNIX_EPOCH + Duration::from_secs(now.load(Ordering::Relaxed) as u64))
    };
    let shutdown = CancellationToken::new();
    let matcher = common::instance_with_clock(&config, &shutdown, clock).await;
    let options = FeedOptions {
        list_id: "amber".into(),
        category: Category::Amber,
        limits: CsvLimits::default(),
    };
    let line = r#"{"entry_id":"a1","plate":"4GET1T5","effective_at":"2026-12-07T06:00:00-08:00"}"#;
    let entries = feed::parse(line.as_bytes(), &Format::JsonLines, &options).unwrap();
    kafka_hotlist::upload(&config, "amber", &entries, "CHP", false)
        .await
        .unwrap();
    let (records, _) = kafka_hotlist::records(&config).unwrap();
    assert_eq!(records["amber/a1"].effective_at, Some(from), "on the topic");
    assert!(common::wait_for(Duration::from_secs(30), || matcher.len() == 1).await);
    assert_eq!(common::hits(&matcher, "4GET1T5"), 0, "an hour before: no match");
    now.store(from.timestamp() - 1, Ordering::Relaxed);
    assert_eq!(common::hits(&matcher, "4GET1T5"), 0, "a second before: no match");
    now.store(from.timestamp(), Ordering::Relaxed);
    let hit = common::hits_of(&matcher, "4GET1T5");
    assert_eq!(hit.len(), 1, "from then on it matches");
    assert_eq!(hit[0].effective_at, Some(from));
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_with_no_hotlist_file() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, config) = common::config_file(dir.path(), &common::unique("nofile"));
    assert!(!dir.path().join("h.csv").exists(), "the configured file is not there");
    common::create_topics(&config).await;
    let log = dir.path().join("serve.log");
    let mut child = common::serve_process(
        &config_path,
        &log,
        &[("HOTLIST_HOTLIST_PATH", ""), ("HOTLIST_LOG_FORMAT", "text")],
    );
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let started = common::wait_for(Duration::from_secs(60), || {
        text().contains("API started") || child.try_wait().unwrap().is_some()
    })
    .await;
    let _ = child.kill();
    child.wait().unwrap();
    let text = text();
    assert!(started && text.contains("API started"), "{text}");
    assert!(text.contains("no static hotlist file"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prints_a_lists_entries_after_auditing_the_purpose_and_remove_tombstones_it() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, config) = common::config_file(dir.path(), &common::unique("show"));
    common::create_topics(&config).await;
    let live = "LIC/AAA111.LIS/CA.NIC/V1\nLIC/BBB222.LIS/NV.NIC/V2\n";
    kafka_hotlist::upload(&config, "ca-doj", &ncic(live, "ca-doj"), "CA DOJ", false)
        .await
        .unwrap();
    let purpose = ["--case-number", "AUD-2026-12", "--reason", "quarterly list audit"];
    let (code, stdout) = hotlist_cli(
        &config_path,
        &[&["show", "ca-doj", "--plate", "bbb-222"][..], &purpose].concat(),
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        stdout,
        "V2 BBB222 region=NV category=stolen_vehicle priority=5 effective=- expires=-\n1 entry shown\n"
    );
    let audit = common::audit_log(&config);
    let show = audit
        .iter()
        .find(|r| r.event.action == "hotlist_show")
        .expect("audited");
    assert_eq!(show.event.purpose.as_ref().unwrap().case_number, "AUD-2026-12");
    let (code, stdout) = hotlist_cli(&config_path, &["remove", "ca-doj", "--reason", "retired by DOJ"]);
    assert_eq!((code, stdout.as_str()), (Some(0), "list ca-doj removed: 2 entries\n"));
    let (records, lists) = kafka_hotlist::records(&config).unwrap();
    assert!(records.is_empty() && lists.is_empty(), "tombstoned");
    let (code, stdout) = hotlist_cli(&config_path, &["remove", "ca-doj", "--reason", "retired by DOJ"]);
    assert_eq!(code, Some(2), "{stdout}");
}
