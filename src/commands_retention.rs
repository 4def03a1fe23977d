//! The retention and encryption-at-rest commands: `retention verify` (how
//! old the oldest record of every ALPR topic is, and which day keys are
//! still held) and `decrypt` (an investigator reads sealed records, audited
//! before anything is shown).
//!
//! Kept apart from the other commands so each file stays readable; wiring
//! only, the decisions are in [`crate::retention`] and [`crate::kafka`].

use std::process::ExitCode;

use crate::access::audit::{AuditEvent, Purpose, PurposeCategory};
use crate::access::auth::Action;
use crate::cli::DecryptArgs;
use crate::config::Config;
use crate::kafka::day_keys::{self, sealed_day, Keyring};
use crate::kafka::{audit as kafka_audit, topics};
use crate::retention::seal::{day_id, expired};
use crate::retention::{days_hours, Verdict};

/// Most records one `decrypt` shows.
pub const DECRYPT_MAX: usize = 1000;

/// `retention verify`: one line per partition of every ALPR topic, then the
/// day keys held; exit 2 if a record is kept past the retention and
/// Kafka's deletion slack, or a day key past it is still on the topic.
pub fn retention_verify(config: &Config) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    let mut violations = 0;
    for oldest in crate::kafka::retention::oldest(config, now.timestamp_millis())? {
        let place = format!("{}[{}]", oldest.topic, oldest.partition);
        match oldest.verdict {
            None => println!("{place}: empty"),
            Some(Verdict::Within { age }) => {
                println!("{place}: oldest record {} old, within retention", days_hours(age))
            }
            Some(Verdict::Due { age }) => println!("{place}: oldest record {} old, due for deletion", days_hours(age)),
            Some(Verdict::Violation { age }) => {
                violations += 1;
                println!(
                    "VIOLATION {place}: oldest record {} old, kept past retention",
                    days_hours(age)
                );
            }
        }
    }
    let retention_days = (config.topics.retention.as_secs() / 86_400) as u32;
    let days = day_keys::held_days(config)?;
    let list: Vec<String> = days.iter().map(|d| day_id(*d)).collect();
    println!(
        "{}: {} day keys held: {}",
        config.topics.day_keys,
        days.len(),
        list.join(" ")
    );
    for day in days.iter().filter(|day| expired(**day, now, retention_days)) {
        violations += 1;
        println!(
            "VIOLATION {}: the key of {} is past the retention and not destroyed",
            config.topics.day_keys,
            day_id(*day)
        );
    }
    Ok(match violations {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(2),
    })
}

/// `decrypt`: the plaintext of sealed records of an ALPR topic, one JSON
/// line each, for an investigator (an enabled user whose role may search
/// alerts) with a case number and a reason. The access is on the audit log
/// before any record is read; a record whose day key is destroyed shows
/// as such, never its bytes.
pub async fn decrypt(config: &Config, request: DecryptArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        topics::specs(&config.topics)
            .iter()
            .any(|s| s.alpr_data && s.name == request.topic),
        "--topic {} is not a topic of ALPR data this service seals",
        request.topic
    );
    anyhow::ensure!(
        (1..=DECRYPT_MAX).contains(&request.count),
        "--count must be 1 to {DECRYPT_MAX}"
    );
    let purpose = Purpose {
        category: PurposeCategory::CriminalInvestigation,
        case_number: request.case_number.clone(),
        details: request.reason.clone(),
    };
    purpose
        .validate()
        .map_err(|e| anyhow::anyhow!("--case-number/--reason: {e}"))?;
    let (organisation, role) =
        super::actor::permitted_actor(config, &request.actor, Action::SearchAlerts, "search alerts").await?;
    let event = AuditEvent {
        at: chrono::Utc::now(),
        username: request.actor.clone(),
        organisation,
        role: Some(role),
        action: "decrypt".into(),
        query_terms: vec![
            format!("topic={}", request.topic),
            format!("partition={}", request.partition),
            format!("offset={}", request.offset),
            format!("count={}", request.count),
        ],
        purpose: Some(purpose),
        result_count: None,
        client_addr: "local".into(),
        truncated: false,
        sealed_terms: None,
    };
    kafka_audit::append(config, event).await?;
    let done = tokio_util::sync::CancellationToken::new();
    let keyring = Keyring::start(
        config,
        crate::metrics::Metrics::new(),
        crate::system_clock(),
        done.clone(),
    )
    .await?;
    let (config_copy, place) = (
        config.clone(),
        (request.topic.clone(), request.partition, request.offset),
    );
    let records = tokio::task::spawn_blocking(move || {
        crate::kafka::scan::records_at(&config_copy, (&place.0, place.1, place.2), request.count)
    })
    .await??;
    for message in &records {
        println!("{}", decrypted_line(&keyring, message));
    }
    done.cancel();
    eprintln!("{} record(s) shown; the access is on the audit log", records.len());
    Ok(ExitCode::SUCCESS)
}

/// One record as a JSON line: where it is, its day, and its plaintext or
/// why there is none.
fn decrypted_line(keyring: &Keyring, message: &rdkafka::message::OwnedMessage) -> serde_json::Value {
    use rdkafka::Message;
    let day = sealed_day(message).map(|d| String::from_utf8_lossy(d).into_owned());
    let (payload, error) = match keyring.open_message(message) {
        Ok(plain) => (Some(String::from_utf8_lossy(&plain).into_owned()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    serde_json::json!({
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp_ms": message.timestamp().to_millis(),
        "sealed_day": day,
        "payload": payload,
        "error": error,
    })
}
