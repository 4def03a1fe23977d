//! `alerts rejections-report`: dispatch's decisions counted per list,
//! confusion kind and camera, so a list's false-alarm budget can be tuned
//! from the City's own data (policy section 8).
//!
//! Kept apart from the other commands so each file stays readable; wiring
//! only: the fold and the text are [`crate::alert::feedback`]. It reads
//! sealed ALPR records, so the access is on the audit log before anything
//! is read, and it prints counts, never a plate.

use std::process::ExitCode;

use crate::access::audit::{AuditEvent, Purpose, PurposeCategory};
use crate::access::auth::Action;
use crate::alert::feedback::FeedbackReport;
use crate::alert::lifecycle::Transition;
use crate::alert::Alert;
use crate::config::Config;
use crate::kafka::day_keys::Keyring;
use crate::kafka::{audit as kafka_audit, scan::scan};

/// The case number the report's audit record carries.
const CASE: &str = "policy-8-accuracy";

/// `alerts rejections-report --reason WHY --actor U`: audited, then the
/// alerts and alert-state topics read to their ends and folded.
pub async fn rejections_report(config: &Config, reason: &str, actor: &str) -> anyhow::Result<ExitCode> {
    let purpose = Purpose {
        category: PurposeCategory::ComplianceAudit,
        case_number: CASE.into(),
        details: reason.into(),
    };
    purpose.validate().map_err(|e| anyhow::anyhow!("--reason: {e}"))?;
    let (organisation, role) =
        super::actor::permitted_actor(config, actor, Action::ManageAnyHotlist, "manage every hotlist").await?;
    let event = AuditEvent {
        at: chrono::Utc::now(),
        username: actor.into(),
        organisation,
        role: Some(role),
        action: "rejections_report".into(),
        query_terms: vec![format!("topics={},{}", config.topics.alerts, config.topics.alert_state)],
        purpose: Some(purpose),
        result_count: None,
        client_addr: "local".into(),
        truncated: false,
        sealed_terms: None,
    };
    kafka_audit::append(config, event).await?;
    let (report, alerts, decisions) = load_report(config).await?;
    print!("{}", report.render());
    eprintln!("{alerts} alert record(s) and {decisions} decision record(s) read; the access is on the audit log");
    Ok(ExitCode::SUCCESS)
}

/// The alerts and alert-state topics read to their ends (sealed records
/// opened with their day keys) and folded: the report, and how many alert
/// and decision records were read. Not audited: the caller audits.
pub async fn load_report(config: &Config) -> anyhow::Result<(FeedbackReport, usize, usize)> {
    let done = tokio_util::sync::CancellationToken::new();
    let keyring = Keyring::start(
        config,
        crate::metrics::Metrics::new(),
        crate::system_clock(),
        done.clone(),
    )
    .await?;
    let config_copy = config.clone();
    let read = tokio::task::spawn_blocking(move || {
        let alerts = scan(&config_copy, &keyring, &config_copy.topics.alerts, usize::MAX, |_| true)?;
        let states = scan(
            &config_copy,
            &keyring,
            &config_copy.topics.alert_state,
            usize::MAX,
            |_| true,
        )?;
        Ok::<_, crate::kafka::KafkaError>((alerts, states))
    })
    .await;
    done.cancel();
    let (alerts, transitions) = read??;
    let report = FeedbackReport::fold(
        config.dispatch.suppression_window,
        alerts.iter().filter_map(|a| Alert::decode(a).ok()),
        transitions.iter().filter_map(|t| Transition::decode(t).ok()),
    );
    Ok((report, alerts.len(), transitions.len()))
}
