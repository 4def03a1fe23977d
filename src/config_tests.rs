use super::*;
use crate::hotlist::{Category, RegionRule};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_shipped_defaults_are_valid_and_follow_the_policy() {
    let config = Config::from_toml(&development_toml(), env(&[])).unwrap();
    assert_eq!(config.topics.reads, "alpr.reads");
    assert_eq!(config.topics.alerts, "alpr.alerts");
    assert_eq!(config.topics.dlq, "alpr.reads.dlq");
    assert_eq!(config.topics.hotlist, "alpr.hotlist");
    assert_eq!(config.topics.retention, Duration::from_millis(2_592_000_000));
    assert_eq!(config.kafka.bootstrap_servers, "127.0.0.1:9092");
    let defaults = TolerancePolicy::default();
    assert_eq!(config.matching.by_category, defaults.by_category);
    assert_eq!(config.matching.budget_by_category, defaults.budget_by_category);
    assert_eq!(config.matching.hit_probability, defaults.hit_probability);
    assert_eq!(config.matching.fuzzy_max_list_entries, defaults.fuzzy_max_list_entries);
    assert_eq!(config.matching.region, RegionRule::Penalize, "another state is flagged");
    assert_eq!(defaults.region, RegionRule::Penalize);
    assert_eq!(config.access.training_valid_days, 730);
    let without = development_toml()
        .replace("[access]", "")
        .replace("training_valid_days = 730", "");
    let config = Config::from_toml(&without, env(&[])).unwrap();
    assert_eq!(
        config.access.training_valid_days, 730,
        "older config files keep working"
    );
}

#[test]
fn environment_overrides_the_file() {
    let config = Config::from_toml(
        &development_toml(),
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
        (
            "training_valid_days = 730",
            "training_valid_days = 0",
            "access.training_valid_days",
        ),
        (
            "hit_probability = 0.5",
            "hit_probability = 1.5",
            "matching.hit_probability",
        ),
        ("stolen_plate = 2\n", "stolen_plate = -1\n", "matching.budgets"),
        ("stolen_plate = 2\n", "stolen_plate = \"lots\"\n", "matching.budgets"),
        ("amber = 10\n", "parking = 10\n", "matching.budgets"),
    ];
    for (from, to, key) in cases {
        assert!(development_toml().contains(from), "default.toml lacks {from}");
        match Config::from_toml(&development_toml().replace(from, to), env(&[])) {
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
    // The chart renders the ports and mounts the keys, naming them in the environment.
    let block = block
        .replace("{{ .Values.ports.api }}", "8443")
        .replace("{{ .Values.ports.admin }}", "9464");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("service.key");
    std::fs::write(&key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff").unwrap();
    let master = dir.path().join("master.key");
    std::fs::write(&master, format!("{}\n", "07".repeat(32))).unwrap();
    let (key, master) = (key.display().to_string(), master.display().to_string());
    let mounted = [
        ("HOTLIST_SERVICE_KEY_FILE", key.as_str()),
        ("HOTLIST_MASTER_KEY_FILE", &master),
    ];
    let config = Config::from_toml(&block, env(&mounted)).unwrap();
    assert_eq!(config.kafka.bootstrap_servers, "kafka:9092");
    assert_eq!(
        config.api.admin_listen,
        "0.0.0.0:9464".parse().unwrap(),
        "probes reach it"
    );
    assert_eq!(
        config.hotlist.path.as_deref(),
        Some(std::path::Path::new("/etc/hotlist-matcher/hotlist.csv"))
    );
    assert_eq!(config.topics.day_keys, "alpr.day-keys");
    assert_eq!(config.topics.retention, Duration::from_millis(2_592_000_000));
}

#[test]
fn unknown_keys_and_broken_toml_are_refused() {
    let typo = development_toml().replace("batch_size =", "batch_sise =");
    match Config::from_toml(&typo, env(&[])) {
        Err(ConfigError::UnknownKey { key, nearest }) => {
            assert_eq!(key, "pipeline.batch_sise");
            assert_eq!(nearest.as_deref(), Some("pipeline.batch_size"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Config::from_toml("[kafka", env(&[])),
        Err(ConfigError::Parse(_))
    ));
}

fn with_webhook(table: &str) -> String {
    format!("{}\n[[dispatch.webhooks]]\n{table}\n", development_toml())
}

#[test]
fn a_webhook_takes_its_secret_from_the_environment_or_a_file_never_the_config() {
    let table = "name = \"cad\"\nurl = \"https://cad.example.org/alpr\"\nsecret_env = \"CAD_SECRET\"\ncategories = [\"amber\"]\nmax_priority = 1";
    let config = Config::from_toml(&with_webhook(table), env(&[("CAD_SECRET", "s3cret-s3cret-s3cret")])).unwrap();
    let endpoint = &config.dispatch.webhooks[0];
    assert_eq!(endpoint.secret.0, b"s3cret-s3cret-s3cret");
    assert!(
        !format!("{config:?}").contains("s3cret"),
        "the secret never shows in Debug"
    );
    assert!(endpoint.wants("any-list", Category::Amber, 1));
    assert!(
        !endpoint.wants("any-list", Category::Amber, 2),
        "priority above the highest wanted"
    );
    assert!(
        !endpoint.wants("any-list", Category::StolenVehicle, 0),
        "another category"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "from-a-mounted-file-0123\n").unwrap();
    let table = format!(
        "name = \"cad\"\nurl = \"https://cad.example.org/alpr\"\nsecret_file = {:?}\nlists = [\"rso\"]",
        file.path().display().to_string()
    );
    let config = Config::from_toml(&with_webhook(&table), env(&[])).unwrap();
    let endpoint = &config.dispatch.webhooks[0];
    assert_eq!(
        endpoint.secret.0, b"from-a-mounted-file-0123",
        "the trailing newline is not part of it"
    );
    assert!(endpoint.wants("rso", Category::Other, 9));
    assert!(!endpoint.wants("doj", Category::Other, 9));
}

#[test]
fn a_bad_webhook_is_refused_with_what_to_fix() {
    let base = "name = \"cad\"\nsecret_env = \"S\"\n";
    for (table, env_value, says) in [
        (
            format!("{base}url = \"http://cad.example.org/\""),
            "0123456789abcdef",
            "https://",
        ),
        (
            format!("{base}url = \"not a url\""),
            "0123456789abcdef",
            "url is not valid",
        ),
        (
            format!("{base}url = \"https://cad.example.org/\""),
            "short",
            "at least 16 bytes",
        ),
        (
            "name = \"cad\"\nurl = \"https://x.example/\"\nsecret_env = \"MISSING\"".into(),
            "0123456789abcdef",
            "MISSING is not set",
        ),
        (
            "name = \"cad\"\nurl = \"https://x.example/\"".into(),
            "0123456789abcdef",
            "exactly one of secret_env and secret_file",
        ),
        (
            format!("{base}url = \"https://x.example/\"\ncategories = [\"parking\"]"),
            "0123456789abcdef",
            "\"parking\" is not a category",
        ),
        (
            "name = \"c a d\"\nurl = \"https://x.example/\"\nsecret_env = \"S\"".into(),
            "0123456789abcdef",
            "letters, digits",
        ),
    ] {
        let error = Config::from_toml(&with_webhook(&table), env(&[("S", env_value)]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("dispatch.webhooks") && error.contains(says),
            "{table}: {error}"
        );
        assert!(
            !error.contains(env_value) || env_value == "short",
            "no secret in {error}"
        );
    }
    let two = format!(
        "{}\n[[dispatch.webhooks]]\nname = \"cad\"\nurl = \"https://y.example/\"\nsecret_env = \"S\"\n",
        with_webhook("name = \"cad\"\nurl = \"https://x.example/\"\nsecret_env = \"S\"")
    );
    let error = Config::from_toml(&two, env(&[("S", "0123456789abcdef")]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("two endpoints are named \"cad\""), "{error}");
}

/// Production refuses to start without a service key, and a key file
/// that is too short; the development key is used only when asked for.
#[test]
fn the_service_key_comes_from_a_mounted_file_or_is_refused() {
    let refused = Config::from_toml(DEFAULT_TOML, env(&[])).unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("config key security.key_file is invalid: no service key"),
        "{refused}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service.key");
    std::fs::write(&path, "0123456789abcdef0123456789abcdef0123456789abcdef\n").unwrap();
    let file = path.display().to_string();
    let no_master = Config::from_toml(DEFAULT_TOML, env(&[("HOTLIST_SERVICE_KEY_FILE", &file)])).unwrap_err();
    assert!(
        no_master
            .to_string()
            .starts_with("config key security.master_key_file is invalid: no master key for encryption at rest"),
        "{no_master}"
    );
    let master_path = dir.path().join("master.key");
    std::fs::write(&master_path, format!("{}\n", "5a".repeat(32))).unwrap();
    let master = master_path.display().to_string();
    let keys = [
        ("HOTLIST_SERVICE_KEY_FILE", file.as_str()),
        ("HOTLIST_MASTER_KEY_FILE", &master),
    ];
    let config = Config::from_toml(DEFAULT_TOML, env(&keys)).unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let wrapped = crate::retention::seal::MasterKey::from_bytes(&[0x5a; 32])
        .unwrap()
        .wrap(&crate::retention::seal::DayKey::generate(day).unwrap())
        .unwrap();
    assert!(config.master_key.unwrap(day, &wrapped).is_ok(), "the hex file's key");
    std::fs::write(&master_path, "5a5a").unwrap();
    let short_master = Config::from_toml(DEFAULT_TOML, env(&keys)).unwrap_err();
    assert!(short_master.to_string().contains("a key is 32 bytes"), "{short_master}");
    std::fs::write(&master_path, [0x5a; 32]).unwrap();
    assert_eq!(
        config.key,
        crate::access::keys::ServiceKey::from_bytes(b"0123456789abcdef0123456789abcdef0123456789abcdef").unwrap()
    );
    assert_ne!(config.key, crate::access::keys::ServiceKey::development());
    std::fs::write(&path, "short").unwrap();
    let short = Config::from_toml(DEFAULT_TOML, env(&keys)).unwrap_err();
    assert!(short.to_string().contains("at least 32 bytes (it is 5)"), "{short}");
    let development = Config::from_toml(&development_toml(), env(&[])).unwrap();
    assert_eq!(development.key, crate::access::keys::ServiceKey::development());
}

#[test]
fn the_hotlist_file_is_optional_and_the_skip_share_is_checked() {
    let config = Config::from_toml(&development_toml(), env(&[("HOTLIST_HOTLIST_PATH", "")])).unwrap();
    assert_eq!(config.hotlist.path, None, "empty: every list comes from the topic");
    assert_eq!(config.hotlist.skip_invalid.max_percent, 1.0);
    assert_eq!(config.hotlist.file_organisation, "static hotlist file");
    let bad = development_toml().replace("max_invalid_percent = 1.0", "max_invalid_percent = 101.0");
    match Config::from_toml(&bad, env(&[])) {
        Err(e) => assert!(e.to_string().contains("hotlist.max_invalid_percent"), "{e}"),
        Ok(_) => panic!("101% accepted"),
    }
}
