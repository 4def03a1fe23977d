//! The topics this service owns, their configs, and the 30-day rule.
//!
//! Retention is policy, not tuning: section 9 of the City's policy deletes ALPR
//! data after 30 days, so the reads, alerts and dead-letter topics must delete
//! records by time, no later than that. [`specs`] says what each topic must
//! look like, [`ensure`] creates the missing ones, and [`check`] compares a
//! live topic's config with its spec, so `hotlist-matcher topics` can report a
//! topic someone changed by hand.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::KafkaError;
use crate::config::Topics;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// What one topic must look like.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    /// Whether it holds ALPR data and so falls under the 30-day rule.
    pub alpr_data: bool,
    /// Configs set at creation and checked afterwards.
    pub configs: Vec<(&'static str, String)>,
}

/// The topics and their required configs.
pub fn specs(topics: &Topics) -> Vec<TopicSpec> {
    let retention_ms = topics.retention.as_millis().to_string();
    let spec = |name: &str, alpr_data: bool, mut configs: Vec<(&'static str, String)>| {
        if alpr_data {
            configs.push(("segment.ms", SEGMENT_MS.to_string()));
        }
        if topics.min_insync_replicas > 0 {
            configs.push(("min.insync.replicas", topics.min_insync_replicas.to_string()));
        }
        TopicSpec {
            name: name.to_owned(),
            partitions: topics.partitions,
            replication_factor: topics.replication_factor,
            alpr_data,
            configs,
        }
    };
    vec![
        spec(
            &topics.reads,
            true,
            vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", retention_ms.clone()),
            ],
        ),
        spec(
            &topics.alerts,
            true,
            vec![
                ("cleanup.policy", "compact,delete".into()),
                ("retention.ms", retention_ms.clone()),
            ],
        ),
        spec(
            &topics.dlq,
            true,
            vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", retention_ms.clone()),
            ],
        ),
        // Decisions fold in order from the first record: never compacted.
        spec(
            &topics.alert_state,
            true,
            vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", retention_ms.clone()),
            ],
        ),
        spec(
            &topics.webhook_dlq,
            true,
            vec![
                ("cleanup.policy", "delete".into()),
                ("retention.ms", retention_ms.clone()),
            ],
        ),
        // Events wait here only until the sealer chains them: one
        // partition, so one sealer at a time takes them in one order.
        TopicSpec {
            partitions: 1,
            ..spec(
                &topics.audit_events,
                true,
                vec![("cleanup.policy", "delete".into()), ("retention.ms", retention_ms)],
            )
        },
        spec(&topics.hotlist, false, vec![("cleanup.policy", "compact".into())]),
        spec(&topics.principals, false, vec![("cleanup.policy", "compact".into())]),
        // Wrapped day keys: one partition, so every instance takes the first
        // key of a day in the same order; compacted soon after a tombstone,
        // so a destroyed key leaves the log within a day of its destruction.
        TopicSpec {
            partitions: 1,
            ..spec(
                &topics.day_keys,
                false,
                vec![
                    ("cleanup.policy", "compact".into()),
                    ("segment.ms", SEGMENT_MS.to_string()),
                    ("max.compaction.lag.ms", SEGMENT_MS.to_string()),
                    ("min.cleanable.dirty.ratio", "0.01".into()),
                    ("delete.retention.ms", "86400000".into()),
                ],
            )
        },
        TopicSpec {
            partitions: 1,
            ..spec(
                &topics.audit,
                false,
                vec![
                    ("cleanup.policy", "delete".into()),
                    ("retention.ms", topics.audit_retention.as_millis().to_string()),
                ],
            )
        },
    ]
}

/// What [`ensure`] did with one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    AlreadyExisted,
}

/// A live topic config that breaks its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub topic: String,
    pub key: String,
    pub expected: String,
    pub actual: Option<String>,
    /// The spec's value, which fixes it.
    pub value: String,
}

impl Violation {
    /// The command that fixes it with Kafka's own tool.
    pub fn fix(&self, bootstrap: &str) -> String {
        format!(
            "kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics --entity-name {} --add-config {}={}",
            self.topic, self.key, self.value
        )
    }
}

/// Every way the live topics of `config` break their specs (ALPR data
/// kept too long, segments kept open too long, the audit log kept too
/// short): what `serve` checks before it starts and every hour after.
pub async fn violations(config: &crate::config::Config) -> Result<Vec<Violation>, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = super::client_config(&config.kafka).create()?;
    let specs = specs(&config.topics);
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let live = describe(&admin, &names).await?;
    let empty = BTreeMap::new();
    Ok(specs
        .iter()
        .flat_map(|spec| check(spec, live.get(&spec.name).unwrap_or(&empty)))
        .collect())
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let actual = self.actual.as_deref().unwrap_or("<unset>");
        write!(
            f,
            "{}: {} is {}, must be {}",
            self.topic, self.key, actual, self.expected
        )
    }
}

/// Creates every topic in `specs` that does not exist yet.
pub async fn ensure(
    admin: &AdminClient<DefaultClientContext>,
    specs: &[TopicSpec],
) -> Result<Vec<(String, Created)>, KafkaError> {
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|s| {
            let replication = TopicReplication::Fixed(s.replication_factor);
            s.configs
                .iter()
                .fold(NewTopic::new(&s.name, s.partitions, replication), |t, (k, v)| {
                    t.set(k, v)
                })
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let mut outcome = Vec::new();
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(name) => outcome.push((name, Created::Created)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => outcome.push((name, Created::AlreadyExisted)),
            Err((topic, code)) => {
                return Err(KafkaError::Topic {
                    topic,
                    reason: format!("cannot be created: {code}"),
                })
            }
        }
    }
    Ok(outcome)
}

/// Reads the live configs of the named topics.
pub async fn describe(admin: &AdminClient<DefaultClientContext>, names: &[&str]) -> Result<Described, KafkaError> {
    // A topic created a moment ago may not be known to the broker that
    // answers yet: it reports no configs (or an unknown topic) until its
    // metadata arrives. Every real topic has a cleanup.policy, so wait for
    // that for up to ADMIN_TIMEOUT before reporting what is there.
    let deadline = std::time::Instant::now() + ADMIN_TIMEOUT;
    loop {
        let described = describe_once(admin, names).await?;
        let settled = match &described {
            Ok(out) => out.values().all(|c| c.contains_key("cleanup.policy")),
            Err((_, code)) => *code != RDKafkaErrorCode::UnknownTopicOrPartition,
        };
        if settled || std::time::Instant::now() >= deadline {
            // Still no config at the deadline: the topic is not there.
            if let Ok(out) = &described {
                if let Some((topic, _)) = out.iter().find(|(_, c)| !c.contains_key("cleanup.policy")) {
                    return Err(KafkaError::MissingTopic { topic: topic.clone() });
                }
            }
            return described.map_err(|(topic, code)| match code {
                RDKafkaErrorCode::UnknownTopicOrPartition => KafkaError::MissingTopic { topic },
                code => KafkaError::Topic {
                    topic,
                    reason: format!("cannot describe its config: {code}"),
                },
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

type Described = BTreeMap<String, BTreeMap<String, Option<String>>>;

/// One DescribeConfigs round: the configs, or the first topic the broker
/// refused with its code.
async fn describe_once(
    admin: &AdminClient<DefaultClientContext>,
    names: &[&str],
) -> Result<Result<Described, (String, RDKafkaErrorCode)>, KafkaError> {
    let resources: Vec<_> = names.iter().map(|n| ResourceSpecifier::Topic(n)).collect();
    let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
    let mut out = BTreeMap::new();
    for (name, result) in names.iter().zip(admin.describe_configs(&resources, &options).await?) {
        let resource = match result {
            Ok(resource) => resource,
            Err(code) => return Ok(Err((name.to_string(), code))),
        };
        let entries = resource.entries.into_iter().map(|e| (e.name, e.value)).collect();
        out.insert(name.to_string(), entries);
    }
    Ok(Ok(out))
}

/// The longest a segment of an ALPR topic stays open, in milliseconds.
/// Kafka deletes whole closed segments once their newest record is past
/// retention, so a record outlives its retention by at most this (plus the
/// broker's retention check interval, 5 minutes by default); with the
/// broker's default of 7 days a read lived up to 37 days.
pub const SEGMENT_MS: u64 = 3_600_000;

/// Compares a live config with its spec. Pure: no broker needed.
///
/// ALPR topics must delete by time within the spec's retention; `-1`
/// (forever) or a longer retention, or a policy without `delete`, is a
/// violation, and so is a segment kept open longer than [`SEGMENT_MS`]. Other configs must equal the spec (policy order ignored).
pub fn check(spec: &TopicSpec, live: &BTreeMap<String, Option<String>>) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (key, expected) in &spec.configs {
        let actual = live.get(*key).cloned().flatten();
        let ok = match *key {
            "retention.ms" | "segment.ms" if spec.alpr_data => retention_at_most(expected, actual.as_deref()),
            "retention.ms" => retention_at_least(expected, actual.as_deref()),
            "cleanup.policy" => policy_set(expected) == policy_set(actual.as_deref().unwrap_or("")),
            _ => actual.as_deref() == Some(expected.as_str()),
        };
        if !ok {
            violations.push(Violation {
                topic: spec.name.clone(),
                key: key.to_string(),
                expected: match *key {
                    "retention.ms" if spec.alpr_data => format!("at most {expected} (30-day rule)"),
                    "segment.ms" => format!("at most {expected} (so retention deletes on time)"),
                    "retention.ms" => format!("at least {expected} (audit records must outlive audits)"),
                    _ => expected.clone(),
                },
                actual,
                value: expected.clone(),
            });
        }
    }
    violations
}

fn retention_at_most(max: &str, actual: Option<&str>) -> bool {
    let max: i64 = max.parse().expect("spec retention is a number");
    matches!(actual.and_then(|a| a.trim().parse::<i64>().ok()), Some(ms) if ms > 0 && ms <= max)
}

fn retention_at_least(min: &str, actual: Option<&str>) -> bool {
    let min: i64 = min.parse().expect("spec retention is a number");
    matches!(actual.and_then(|a| a.trim().parse::<i64>().ok()), Some(ms) if ms == -1 || ms >= min)
}

fn policy_set(policy: &str) -> std::collections::BTreeSet<String> {
    policy
        .split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn live(pairs: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect()
    }

    fn default_specs() -> Vec<TopicSpec> {
        specs(
            &Config::from_toml(&crate::config::development_toml(), [])
                .unwrap()
                .topics,
        )
    }

    #[test]
    fn alpr_topics_delete_after_thirty_days() {
        let specs = default_specs();
        let by_name: BTreeMap<_, _> = specs.iter().map(|s| (s.name.as_str(), s)).collect();
        let reads = by_name["alpr.reads"];
        assert_eq!(
            reads.configs,
            vec![
                ("cleanup.policy", "delete".to_string()),
                ("retention.ms", "2592000000".to_string()),
                ("segment.ms", "3600000".to_string())
            ]
        );
        assert_eq!(by_name["alpr.alerts"].configs[0].1, "compact,delete");
        assert_eq!(by_name["alpr.reads.dlq"].configs[1].1, "2592000000");
        for name in ["alpr.alert-state", "alpr.webhooks.dlq"] {
            assert_eq!(by_name[name].configs, reads.configs, "{name}");
            assert!(by_name[name].alpr_data);
        }
        assert_eq!(specs.len(), 10);
        let events = by_name["alpr.audit-events"];
        assert_eq!(
            (events.partitions, events.alpr_data),
            (1, true),
            "one sealer, one order"
        );
        assert_eq!(events.configs, reads.configs);
        assert_eq!(
            by_name["alpr.hotlist"].configs,
            vec![("cleanup.policy", "compact".to_string())]
        );
        assert!(!by_name["alpr.hotlist"].alpr_data);
        assert_eq!(
            by_name["alpr.principals"].configs,
            vec![("cleanup.policy", "compact".to_string())]
        );
        let audit = by_name["alpr.audit"];
        assert_eq!(audit.partitions, 1, "one chain, one order");
        assert_eq!(audit.configs[1].1, "63072000000", "two years");
        let keys = by_name["alpr.day-keys"];
        assert_eq!((keys.partitions, keys.alpr_data), (1, false), "one order of day keys");
        assert_eq!(
            keys.configs,
            vec![
                ("cleanup.policy", "compact".to_string()),
                ("segment.ms", "3600000".to_string()),
                ("max.compaction.lag.ms", "3600000".to_string()),
                ("min.cleanable.dirty.ratio", "0.01".to_string()),
                ("delete.retention.ms", "86400000".to_string()),
            ],
            "a destroyed key leaves the log soon after its tombstone"
        );
    }

    #[test]
    fn the_audit_log_must_be_kept_at_least_its_retention() {
        let specs = default_specs();
        let audit = specs.iter().find(|s| s.name == "alpr.audit").unwrap();
        let short = live(&[("cleanup.policy", "delete"), ("retention.ms", "2592000000")]);
        assert_eq!(check(audit, &short).len(), 1);
        let forever = live(&[("cleanup.policy", "delete"), ("retention.ms", "-1")]);
        assert_eq!(check(audit, &forever), vec![]);
    }

    #[test]
    fn a_compliant_topic_has_no_violations() {
        let specs = default_specs();
        let ok = live(&[
            ("cleanup.policy", "delete,compact"),
            ("retention.ms", "2592000000"),
            ("segment.ms", "3600000"),
        ]);
        assert_eq!(check(&specs[1], &ok), vec![]);
        let shorter = live(&[
            ("cleanup.policy", "delete"),
            ("retention.ms", "86400000"),
            ("segment.ms", "600000"),
        ]);
        assert_eq!(check(&specs[0], &shorter), vec![]);
    }

    #[test]
    fn longer_or_infinite_retention_and_a_missing_delete_are_reported() {
        let spec = &default_specs()[0];
        for (retention, policy, bad_keys) in [
            ("2592000001", "delete", vec!["retention.ms"]),
            ("-1", "delete", vec!["retention.ms"]),
            ("2592000000", "compact", vec!["cleanup.policy"]),
            ("junk", "", vec!["cleanup.policy", "retention.ms"]),
        ] {
            let configs = [
                ("cleanup.policy", policy),
                ("retention.ms", retention),
                ("segment.ms", "3600000"),
            ];
            let found = check(spec, &live(&configs));
            let keys: Vec<_> = found.iter().map(|v| v.key.as_str()).collect();
            let mut want = bad_keys.clone();
            want.sort();
            let mut got = keys.clone();
            got.sort();
            assert_eq!(got, want, "{retention} {policy}");
        }
        let missing = check(spec, &BTreeMap::new());
        assert_eq!(missing.len(), 3);
        assert_eq!(
            missing[1].to_string(),
            "alpr.reads: retention.ms is <unset>, must be at most 2592000000 (30-day rule)"
        );
        let weekly = live(&[
            ("cleanup.policy", "delete"),
            ("retention.ms", "2592000000"),
            ("segment.ms", "604800000"),
        ]);
        assert_eq!(
            check(spec, &weekly)[0].to_string(),
            "alpr.reads: segment.ms is 604800000, must be at most 3600000 (so retention deletes on time)",
            "the broker's default week let reads live 37 days"
        );
    }
}
