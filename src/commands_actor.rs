//! Who runs a command-line command and how it goes on the audit log: the
//! acting custodian named by `--actor`, and the audit event of the command
//! line. Shared by the user and hotlist commands, so each of their files
//! imports it rather than the other.

use crate::access::audit::AuditEvent;
use crate::access::auth::Role;
use crate::config::Config;

/// An audit event of the command line, by custodian `actor`, its terms
/// followed by the operating-system user who ran it.
pub(super) fn cli_event(
    actor: String,
    action: &str,
    mut query_terms: Vec<String>,
    result_count: Option<u64>,
) -> AuditEvent {
    query_terms.push(format!("os_user={}", os_user()));
    AuditEvent {
        at: chrono::Utc::now(),
        username: actor,
        organisation: "command line".into(),
        role: Some(Role::Custodian),
        action: action.into(),
        query_terms,
        purpose: None,
        result_count,
        client_addr: "local".into(),
        truncated: false,
        sealed_terms: None,
    }
}

/// The custodian named by `--actor`: once any custodian exists, it must be
/// one of them, enabled; before that (bootstrapping the first), any valid
/// username, recorded as given.
pub(super) async fn acting_custodian(config: &Config, actor: &str) -> anyhow::Result<String> {
    crate::access::principals::check_username(actor).map_err(|e| anyhow::anyhow!("--actor: {e}"))?;
    let principals = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || crate::kafka::principals::load(&config, &crate::metrics::Metrics::new()))
            .await??
            .0
    };
    if principals.has_custodian() {
        let ok = principals
            .user(actor)
            .is_some_and(|u| u.role == Role::Custodian && !u.disabled);
        anyhow::ensure!(ok, "--actor {actor} is not an enabled custodian");
    }
    Ok(actor.to_owned())
}

/// The operating-system account running the command, recorded beside the
/// actor (never instead of it).
fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The organisation and role of `actor`, an enabled user whose role may do
/// `action` (`what` says it in the refusal, e.g. "search alerts").
pub(super) async fn permitted_actor(
    config: &Config,
    actor: &str,
    action: crate::access::auth::Action,
    what: &str,
) -> anyhow::Result<(String, Role)> {
    crate::access::principals::check_username(actor).map_err(|e| anyhow::anyhow!("--actor: {e}"))?;
    let principals = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || crate::kafka::principals::load(&config, &crate::metrics::Metrics::new()))
            .await??
            .0
    };
    let user = principals
        .user(actor)
        .filter(|u| !u.disabled && crate::access::auth::permitted(u.role, action))
        .ok_or_else(|| anyhow::anyhow!("--actor {actor} is not an enabled user who may {what}"))?;
    Ok((user.organisation.clone(), user.role))
}
