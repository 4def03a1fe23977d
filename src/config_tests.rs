use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_shipped_defaults_are_valid_and_follow_the_policy() {
    let config = Config::from_toml(DEFAULT_TOML, env(&[])).unwrap();
    assert_eq!(config.topics.reads, "alpr.reads");
    assert_eq!(config.topics.alerts, "alpr.alerts");
    assert_eq!(config.topics.dlq, "alpr.reads.dlq");
    assert_eq!(config.topics.hotlist, "alpr.hotlist");
    assert_eq!(config.topics.retention, Duration::from_millis(2_592_000_000));
    assert_eq!(config.kafka.bootstrap_servers, "127.0.0.1:9092");
    let defaults = TolerancePolicy::default();
    assert_eq!(config.matching.by_category, defaults.by_category);
    assert_eq!(config.matching.fuzzy_max_list_entries, defaults.fuzzy_max_list_entries);
    assert_eq!(config.matching.region, RegionRule::Reject);
}

#[test]
fn environment_overrides_the_file() {
    let config = Config::from_toml(
        DEFAULT_TOML,
        env(&[
            ("HOTLIST_BOOTSTRAP_SERVERS", "kafka-1:9093,kafka-2:9093"),
            ("HOTLIST_GROUP_ID", "matchers-east"),
            ("HOTLIST_KAFKA_PROPERTY_SASL_PASSWORD", "hunter2"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(config.kafka.bootstrap_servers, "kafka-1:9093,kafka-2:9093");
    assert_eq!(config.kafka.group_id, "matchers-east");
    assert_eq!(
        config.kafka.properties.get("sasl.password").map(String::as_str),
        Some("hunter2")
    );
    assert!(!format!("{:?}", config.kafka).contains("hunter2"));
}

#[test]
fn bad_values_are_refused_with_the_key() {
    let cases = [
        ("retention_days = 30", "retention_days = 31", "topics.retention_days"),
        ("retention_days = 30", "retention_days = 0", "topics.retention_days"),
        ("partitions = 6", "partitions = 0", "topics.partitions"),
        ("alerts = \"alpr.alerts\"", "alerts = \"alpr.reads\"", "topics"),
        ("alerts = \"alpr.alerts\"", "alerts = \"alpr alerts\"", "topics"),
        ("batch_size = 1000", "batch_size = 0", "pipeline.batch_size"),
        (
            "max_record_bytes = 65536",
            "max_record_bytes = 10",
            "pipeline.max_record_bytes",
        ),
        ("group_id = \"hotlist-matcher\"", "group_id = \" \"", "kafka.group_id"),
    ];
    for (from, to, key) in cases {
        assert!(DEFAULT_TOML.contains(from), "default.toml lacks {from}");
        match Config::from_toml(&DEFAULT_TOML.replace(from, to), env(&[])) {
            Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{to}"),
            other => panic!("{to}: {other:?}"),
        }
    }
}

#[test]
fn the_helm_charts_config_is_valid() {
    let values = include_str!("../helm/hotlist-matcher/values.yaml");
    let block: String = values
        .lines()
        .skip_while(|l| !l.starts_with("config: |"))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("  "))
        .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
        .collect();
    let config = Config::from_toml(&block, env(&[])).unwrap();
    assert_eq!(config.kafka.bootstrap_servers, "kafka:9092");
    assert_eq!(config.hotlist.path, std::path::Path::new("/hotlist/hotlist.csv"));
    assert_eq!(config.topics.retention, Duration::from_millis(2_592_000_000));
}

#[test]
fn unknown_keys_and_broken_toml_are_refused() {
    let typo = DEFAULT_TOML.replace("batch_size =", "batch_sise =");
    assert!(matches!(Config::from_toml(&typo, env(&[])), Err(ConfigError::Parse(_))));
    assert!(matches!(
        Config::from_toml("[kafka", env(&[])),
        Err(ConfigError::Parse(_))
    ));
}
