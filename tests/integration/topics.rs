//! `topics` creates the topics with their configs, and reports policy breaches.

use std::time::Duration;

use hotlist_matcher::kafka::topics::{self, Created};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_with_their_configs_and_read_back() {
    let prefix = common::unique("topics");
    let config = common::config(&prefix, std::path::Path::new("unused.csv"), 1000);
    let admin = common::admin(&config);
    let specs = topics::specs(&config.topics);

    let first = topics::ensure(&admin, &specs).await.unwrap();
    assert_eq!(
        first.iter().filter(|(_, c)| *c == Created::Created).count(),
        10,
        "{first:?}"
    );
    let second = topics::ensure(&admin, &specs).await.unwrap();
    assert!(second.iter().all(|(_, c)| *c == Created::AlreadyExisted), "{second:?}");

    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let live = topics::describe(&admin, &names).await.unwrap();
    let get = |topic: &str, key: &str| live[topic].get(key).cloned().flatten();
    let reads = format!("{prefix}.alpr.reads");
    let alerts = format!("{prefix}.alpr.alerts");
    let dlq = format!("{prefix}.alpr.reads.dlq");
    let hotlist = format!("{prefix}.alpr.hotlist");
    assert_eq!(get(&reads, "cleanup.policy").as_deref(), Some("delete"));
    assert_eq!(get(&reads, "retention.ms").as_deref(), Some("2592000000"));
    assert_eq!(get(&alerts, "cleanup.policy").as_deref(), Some("compact,delete"));
    assert_eq!(get(&alerts, "retention.ms").as_deref(), Some("2592000000"));
    assert_eq!(get(&dlq, "cleanup.policy").as_deref(), Some("delete"));
    assert_eq!(get(&dlq, "retention.ms").as_deref(), Some("2592000000"));
    assert_eq!(get(&hotlist, "cleanup.policy").as_deref(), Some("compact"));
    let keys = format!("{prefix}.alpr.day-keys");
    assert_eq!(get(&keys, "cleanup.policy").as_deref(), Some("compact"));
    assert_eq!(get(&keys, "max.compaction.lag.ms").as_deref(), Some("3600000"));
    let audit = format!("{prefix}.alpr.audit");
    assert_eq!(get(&audit, "retention.ms").as_deref(), Some("63072000000"));
    let principals = format!("{prefix}.alpr.principals");
    assert_eq!(get(&principals, "cleanup.policy").as_deref(), Some("compact"));
    for spec in &specs {
        assert_eq!(topics::check(spec, &live[&spec.name]), vec![], "{}", spec.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_topics_command_reports_a_topic_kept_longer_than_thirty_days() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("violation");
    let (config_path, config) = common::config_file(dir.path(), &prefix);

    // Someone created the reads topic by hand with 90 days' retention.
    let reads = NewTopic::new(&config.topics.reads, 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "delete")
        .set("retention.ms", "7776000000");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    common::admin(&config).create_topics([&reads], &options).await.unwrap()[0]
        .as_ref()
        .unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["--config", config_path.to_str().unwrap(), "topics"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let violations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("VIOLATION")).collect();
    assert_eq!(
        violations,
        [
            format!(
                "VIOLATION {}: retention.ms is 7776000000, must be at most 2592000000 (30-day rule)",
                config.topics.reads
            ),
            format!(
                "VIOLATION {}: segment.ms is 604800000, must be at most 3600000 (so retention deletes on time)",
                config.topics.reads
            )
        ]
    );
    assert!(
        stdout.contains(&format!("{}: created", config.topics.alerts)),
        "{stdout}"
    );

    // With the other three created and compliant, `--check` still fails on the one.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["--config", config_path.to_str().unwrap(), "topics", "--check"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

/// Issue 13: `serve` reads the live settings of every topic it uses and
/// refuses to start on a reads topic kept 60 days, naming the topic, the
/// setting and the command that fixes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_to_start_on_a_reads_topic_kept_sixty_days() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("serve-60d");
    let (config_path, config) = common::config_file(dir.path(), &prefix);
    let reads = NewTopic::new(&config.topics.reads, 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "delete")
        .set("retention.ms", "5184000000")
        .set("segment.ms", "3600000");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    common::admin(&config).create_topics([&reads], &options).await.unwrap()[0]
        .as_ref()
        .unwrap();
    common::create_topics(&config).await; // the others, as specified

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["--config", config_path.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let told: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("POLICY VIOLATION") || l.starts_with("  fix:"))
        .collect();
    assert_eq!(
        told,
        [
            format!(
                "POLICY VIOLATION {}: retention.ms is 5184000000, must be at most 2592000000 (30-day rule)",
                config.topics.reads
            ),
            format!(
                "  fix: kafka-configs.sh --bootstrap-server {} --alter --entity-type topics --entity-name {} --add-config retention.ms=2592000000",
                config.kafka.bootstrap_servers, config.topics.reads
            ),
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("refusing to start: 1 topic setting(s) break the retention policy"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_really_deletes_reads_past_a_topics_retention() {
    use hotlist_matcher::sample;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let prefix = common::unique("retention");
    let config = common::config(&prefix, std::path::Path::new("unused.csv"), 1000);
    let admin = common::admin(&config);
    // The reads topic's own settings, with seconds where production has 30 days.
    let topic = NewTopic::new(&config.topics.reads, 1, TopicReplication::Fixed(-1))
        .set("cleanup.policy", "delete")
        .set("retention.ms", "3000")
        .set("segment.ms", "1000");
    for result in admin.create_topics(&[topic], &AdminOptions::new()).await.unwrap() {
        result.unwrap();
    }
    let read = |i: u32| {
        sample::read_json(
            uuid::Uuid::new_v4(),
            "cam-r",
            &common::at(),
            &format!("RET{i:04}"),
            None,
        )
    };
    let old: Vec<_> = (0..100).map(read).collect();
    common::produce(&config, &config.topics.reads, &old).await;
    let consumer: BaseConsumer = hotlist_matcher::kafka::client_config(&config.kafka).create().unwrap();
    let watermarks = || {
        consumer
            .fetch_watermarks(&config.topics.reads, 0, Duration::from_secs(10))
            .unwrap()
    };
    assert_eq!(watermarks(), (0, 100));
    // Newer reads keep arriving, so older segments roll and age out.
    let mut low = 0;
    for i in 0..90 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        common::produce(&config, &config.topics.reads, &[read(1000 + i)]).await;
        low = watermarks().0;
        if low >= 100 {
            break;
        }
    }
    assert!(
        low >= 100,
        "the 100 old reads were deleted by retention (low watermark {low})"
    );
}

/// Issue 13: `retention verify` names a partition that keeps a record
/// captured 31 days ago (here produced with that timestamp into the live
/// segment, which Kafka has not yet rolled) and exits 2; one captured
/// yesterday is within retention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_verify_names_a_record_kept_past_thirty_days() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("retention-verify");
    let (config_path, config) = common::config_file(dir.path(), &prefix);
    common::create_topics(&config).await;
    let producer: FutureProducer = hotlist_matcher::kafka::client_config(&config.kafka).create().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    for (partition, age_days) in [(0, 31), (1, 1)] {
        let record = FutureRecord::<(), _>::to(&config.topics.reads)
            .payload("{}")
            .partition(partition)
            .timestamp(now - age_days * 86_400_000);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    // A day key 40 days old that nothing destroyed, and today's.
    let today = chrono::Utc::now().date_naive();
    let old = today - chrono::Duration::days(40);
    for day in [old, today] {
        let key = hotlist_matcher::retention::seal::DayKey::generate(day).unwrap();
        let name = hotlist_matcher::retention::keybook::record_name(day, "test");
        let wrapped = config.master_key.wrap(&key).unwrap();
        let record = FutureRecord::to(&config.topics.day_keys).key(&name).payload(&wrapped);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["--config", config_path.to_str().unwrap(), "retention", "verify"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    let reads: Vec<&str> = stdout.lines().filter(|l| l.contains(".alpr.reads[")).collect();
    assert_eq!(
        reads,
        [
            format!(
                "VIOLATION {}[0]: oldest record 31d 0h old, kept past retention",
                config.topics.reads
            ),
            format!("{}[1]: oldest record 1d 0h old, within retention", config.topics.reads),
            format!("{}[2]: empty", config.topics.reads),
        ]
    );
    let id = hotlist_matcher::retention::seal::day_id;
    let keys: Vec<&str> = stdout.lines().filter(|l| l.contains(".alpr.day-keys")).collect();
    assert_eq!(
        keys,
        [
            format!("{}: 2 day keys held: {} {}", config.topics.day_keys, id(old), id(today)),
            format!(
                "VIOLATION {}: the key of {} is past the retention and not destroyed",
                config.topics.day_keys,
                id(old)
            ),
        ]
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("VIOLATION")).count(),
        2,
        "{stdout}"
    );
}

/// Issue 12: the ACLs `scripts/kafka-acls.sh` applies (its dry run): the
/// cameras may only write reads (and take day keys to seal them), nobody is granted a delete, and the
/// sealers' transactional id and group are the ones the code uses.
#[test]
fn the_acl_script_grants_what_each_principal_needs_and_no_delete() {
    let out = std::process::Command::new("bash")
        .args(["scripts/kafka-acls.sh", "--dry-run", "--bootstrap", "127.0.0.1:9092"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let grants = String::from_utf8(out.stdout).unwrap();
    let cameras: Vec<&str> = grants.lines().filter(|l| l.contains("User:alpr-cameras")).collect();
    assert_eq!(
        cameras,
        [
            "--allow-principal User:alpr-cameras --operation Write --operation Describe --topic alpr.reads",
            "--allow-principal User:alpr-cameras --operation Read --operation Write --operation Describe --topic alpr.day-keys"
        ]
    );
    assert!(
        !grants.contains("Delete") && !grants.contains("--operation All"),
        "{grants}"
    );
    let config = hotlist_matcher::config::Config::from_toml(&hotlist_matcher::config::development_toml(), []).unwrap();
    let sealer_group = hotlist_matcher::kafka::sealer::group_id(&config);
    assert!(
        grants.contains(&format!("--transactional-id {}-sealer\n", config.topics.audit)),
        "{grants}"
    );
    assert!(grants.contains(&format!("--group {sealer_group}\n")), "{grants}");
    // Issue 22: every list's upload transactional id, by prefix.
    let upload_id = hotlist_matcher::kafka::hotlist_write::transactional_id(&config, "");
    assert!(
        grants.contains(&format!(
            "--transactional-id {upload_id} --resource-pattern-type prefixed\n"
        )),
        "{grants}"
    );
    for topic in hotlist_matcher::kafka::topics::specs(&config.topics) {
        let line = "--allow-principal User:hotlist-matcher --operation Read";
        assert!(
            grants
                .lines()
                .any(|l| l.starts_with(line) && l.ends_with(&format!("--topic {}", topic.name))),
            "the service reads {}",
            topic.name
        );
    }
    assert_eq!(
        grants
            .lines()
            .filter(|l| l.contains("--operation Write") && l.contains("alpr.principals"))
            .count(),
        1,
        "only the service writes principals"
    );
}
