//! What each subcommand does, once `main` has parsed its arguments: thin
//! wiring over the library (the composition root [`crate::app`], the Kafka
//! modules, the access rules), with `anyhow` for errors as wiring may.
//! Everything that decides something lives in the library modules.

use std::process::ExitCode;

use anyhow::Context;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::access::audit::{self, AuditRecord};
use crate::access::auth::{self, Role};
use crate::access::principals::User;
use crate::app;
#[path = "commands_retention.rs"]
mod retention_commands;
pub use retention_commands::{decrypt, retention_verify};
#[path = "commands_actor.rs"]
mod actor;
use actor::{acting_custodian, cli_event};
#[path = "commands_hotlist.rs"]
mod hotlist_commands;
pub use hotlist_commands::{hotlist_lists, hotlist_remove, hotlist_show, upload_hotlist};
#[path = "commands_feedback.rs"]
mod feedback_commands;
pub use feedback_commands::{load_report, rejections_report};

use crate::cli::{
    AlertsCommand, AuditCommand, BenchCommand, Cli, Command, HotlistCommand, RetentionCommand, UsersCommand,
};
use crate::config::Config;
use crate::demo::{self, DemoOptions};
use crate::kafka::audit as kafka_audit;
use crate::kafka::{client_config, topics};
use crate::text::escaped;
use crate::{accuracy, bench};

/// Runs the subcommand `cli` names.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo {
            reads,
            bootstrap_servers,
            seed,
            serve,
            all,
        } => {
            let options = DemoOptions {
                reads: reads as usize,
                bootstrap_servers,
                seed,
                serve,
                all,
            };
            demo::run(options, &mut std::io::stdout()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve => serve(Config::load(cli.config.as_deref())?).await,
        Command::Bench {
            what:
                BenchCommand::Accuracy {
                    sizes,
                    reads,
                    innocent,
                    seed,
                    mix,
                    wrong_state_percent,
                },
        } => {
            use accuracy::national::{self, Mix};
            let mix = match mix.as_str() {
                "legacy" => None,
                "california" => Some(Mix::California),
                _ => Some(Mix::National),
            };
            let Some(mix) = mix else {
                let options = accuracy::Options {
                    sizes,
                    reads_per_noise: reads,
                    innocent_reads: innocent,
                    seed,
                };
                accuracy::run(&options, &mut std::io::stdout())?;
                return Ok(ExitCode::SUCCESS);
            };
            let options = national::Options {
                mix,
                sizes,
                reads_per_noise: reads,
                innocent_reads: innocent,
                wrong_state_percent,
                seed,
            };
            national::run(&options, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                BenchCommand::HotlistLoad {
                    entries,
                    live_changes,
                    delete,
                },
        } => {
            let config = bench_config(cli.config.as_deref())?;
            let exe = std::env::current_exe().context("finding this program for the upload process")?;
            let path = bench_config_file(cli.config.as_deref())?;
            let run = bench::load::Run {
                exe: &exe,
                config_path: &path,
                live_changes,
                delete,
            };
            print!("{}", bench::hotlist_load(&config, entries, run).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                BenchCommand::ServiceMemory {
                    entries,
                    replacement,
                    checked,
                },
        } => {
            let config = bench_config(cli.config.as_deref())?;
            let exe = std::env::current_exe().context("finding this program for the upload process")?;
            let path = bench_config_file(cli.config.as_deref())?;
            let replacement = match (replacement, checked) {
                (Some(file), Some(checked)) => {
                    Some(bench::memory::Replacement::from_files(&exe, &path, &file, &checked)?)
                }
                _ => None,
            };
            print!(
                "{}",
                bench::memory::service_memory(&config, entries, replacement).await?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                BenchCommand::Replay {
                    reads,
                    new_entries,
                    delete,
                },
        } => {
            let config = bench_config(cli.config.as_deref())?;
            print!("{}", bench::replay::replay(&config, reads, new_entries, delete).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::Throughput { reads },
        } => {
            print!(
                "{}",
                bench::throughput(&bench_config(cli.config.as_deref())?, reads).await?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                BenchCommand::Latency {
                    rate,
                    seconds,
                    hit_every,
                },
        } => {
            let config = bench_config(cli.config.as_deref())?;
            print!("{}", bench::latency::latency(&config, rate, seconds, hit_every).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::BoardLatency { seconds, rate },
        } => {
            let config = bench_config(cli.config.as_deref())?;
            print!("{}", bench::dispatch::board_latency(&config, seconds, rate).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::WebhookThroughput { alerts },
        } => {
            let config = bench_config(cli.config.as_deref())?;
            print!("{}", bench::dispatch::webhook_throughput(&config, alerts).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::ApiLoad { reads, requests },
        } => {
            let config = bench_config(cli.config.as_deref())?;
            print!("{}", bench::api_load::api_load(&config, reads, requests).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::HotlistReplace { entries },
        } => {
            let config = bench_config(cli.config.as_deref())?;
            let exe = std::env::current_exe().context("finding this program for the upload process")?;
            let path = bench_config_file(cli.config.as_deref())?;
            print!("{}", bench::hotlist_replace(&config, &exe, Some(&path), entries).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Users {
            what:
                UsersCommand::Add {
                    username,
                    organisation,
                    role,
                    password_stdin,
                    sworn,
                    trained_on,
                    expires_on,
                    actor,
                },
        } => {
            let config = connected(cli.config.as_deref()).await?;
            let new = (username.as_str(), organisation.as_str(), role.as_str());
            let prerequisites = (sworn, trained_on, expires_on);
            add_user(&config, new, prerequisites, password_stdin, &actor).await
        }
        Command::Users {
            what: UsersCommand::SignExisting { actor },
        } => sign_existing(&connected(cli.config.as_deref()).await?, &actor).await,
        Command::Hotlist { what } => {
            let config = connected(cli.config.as_deref()).await?;
            match what {
                HotlistCommand::Upload(args) => upload_hotlist(&config, args).await,
                HotlistCommand::Lists => hotlist_lists(&config),
                HotlistCommand::Show(args) => hotlist_show(&config, args).await,
                HotlistCommand::Remove { list, reason, actor } => hotlist_remove(&config, &list, &reason, &actor).await,
            }
        }
        Command::Audit { what } => {
            let query = match what {
                AuditCommand::Verify => AuditQuery::Verify,
                AuditCommand::Report { from, to } => AuditQuery::Report { from, to },
            };
            audit(&connected(cli.config.as_deref()).await?, query)
        }
        Command::Topics { check } => topics(Config::load(cli.config.as_deref())?, check).await,
        Command::Retention {
            what: RetentionCommand::Verify,
        } => retention_verify(&connected(cli.config.as_deref()).await?),
        Command::Decrypt(request) => decrypt(&connected(cli.config.as_deref()).await?, request).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Generated whole first: clap_complete panics on a failed write
            // (a closed pipe); writing here reports it as an error instead.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hotlist-matcher", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script).context("writing the completions")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Alerts {
            what: AlertsCommand::RejectionsReport { reason, actor },
        } => rejections_report(&connected(cli.config.as_deref()).await?, &reason, &actor).await,
    }
}

/// The config of a command that talks to Kafka, once a broker answers with
/// it: an unreachable broker is reported within seconds, with its address
/// and what to check, instead of as a time-out of the first request.
async fn connected(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let config = Config::load(path)?;
    crate::kafka::check_connection_async(&config.kafka).await?;
    Ok(config)
}

/// `serve`: the service until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    crate::kafka::check_connection_async(&config.kafka).await?;
    let violations = topics::violations(&config).await?;
    if !violations.is_empty() {
        for violation in &violations {
            eprintln!("POLICY VIOLATION {violation}");
            eprintln!("  fix: {}", violation.fix(&config.kafka.bootstrap_servers));
        }
        anyhow::bail!(
            "refusing to start: {} topic setting(s) break the retention policy (see above)",
            violations.len()
        );
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let running = app::run(config.clone(), shutdown.clone()).await?;
    running.metrics.retention_checked(Some(0)); // the check above passed
    tokio::spawn(check_topics_hourly(config, running.metrics.clone(), shutdown));
    running.wait().await?;
    info!("stopped cleanly");
    exit_after_clean_stop()
}

/// Ends the process at once after a clean stop of `serve`. librdkafka's and
/// OpenSSL's threads can outlive `main` by a moment, and the C library's
/// exit handlers (OpenSSL's cleanup among them) racing them crashed the
/// process on its way out once in several test runs (SIGSEGV after "stopped
/// cleanly"). By now every offset is committed, every alert acknowledged
/// and every log line written.
fn exit_after_clean_stop() -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process without running exit handlers; no
    // state that outlives the process depends on them (see above).
    unsafe { libc::_exit(0) }
}

/// Checks the topics' settings every hour while serving: a violation is
/// logged and sets the `topic_policy_violations` gauge (health: critical).
async fn check_topics_hourly(config: Config, metrics: crate::metrics::Metrics, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    every.tick().await; // the first tick is now: checked at start already
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        match topics::violations(&config).await {
            Ok(found) => {
                for violation in &found {
                    tracing::error!(topic = %violation.topic, key = %violation.key, "topic setting breaks the retention policy");
                }
                metrics.retention_checked(Some(found.len()));
            }
            Err(e) => {
                metrics.retention_checked(None);
                warn!(error = %e, "hourly topic check failed")
            }
        }
    }
}

/// What `audit verify` and `audit report` ask for.
pub enum AuditQuery {
    Verify,
    Report {
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    },
}

/// The config of a measurement: the file given, or the defaults with the
/// development key (benchmarks run against a test broker).
fn bench_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(_) => Config::load(path)?,
        None => Config::from_toml(&crate::config::development_toml(), std::env::vars())?,
    })
}

/// The file a measurement's child processes read its config from: the one
/// given, or the development defaults written to a temporary file.
fn bench_config_file(path: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    if let Some(path) = path {
        return Ok(path.to_owned());
    }
    let file = std::env::temp_dir().join(format!("hotlist-bench-{}.toml", std::process::id()));
    std::fs::write(&file, crate::config::development_toml()).context("writing the bench config")?;
    Ok(file)
}

/// `audit verify` (exit 2 naming the first broken record) or `audit report`.
pub fn audit(config: &Config, what: AuditQuery) -> anyhow::Result<ExitCode> {
    let records = kafka_audit::read_all(config)?;
    match what {
        AuditQuery::Verify => match audit::verify(&config.key, &records) {
            Ok(()) => {
                println!("audit chain intact: {} records", records.len());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("AUDIT CHAIN BROKEN: {e}");
                Ok(ExitCode::from(2))
            }
        },
        AuditQuery::Report { from, to } => {
            let key = config.master_key.audit_key();
            for r in records.into_iter().filter(|r| r.event.at >= from && r.event.at <= to) {
                println!("{}", report_line(&kafka_audit::opened(&key, r)));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes a new custodian to the principals topic.
/// `users add`: bootstrap a custodian (password asked twice, or from stdin).
pub async fn add_user(
    config: &Config,
    (username, organisation, role): (&str, &str, &str),
    (sworn, trained_on, expires_on): (bool, Option<chrono::NaiveDate>, Option<chrono::NaiveDate>),
    password_stdin: bool,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let actor = acting_custodian(config, actor).await?;
    let role = Role::parse(role).with_context(|| format!("unknown role {role:?}"))?;
    anyhow::ensure!(
        role == Role::Custodian,
        "the command line adds custodians only; a custodian adds other users through the API"
    );
    let password = read_password(password_stdin)?;
    let user =
        User::new(username, organisation, role, String::new())?.with_prerequisites(sworn, trained_on, expires_on);
    user.check_new_prerequisites(chrono::Utc::now().date_naive())?;
    let user = User {
        password_hash: auth::hash_password(&password)?,
        ..user
    };
    let admin: AdminClient<DefaultClientContext> = client_config(&config.kafka).create()?;
    topics::ensure(&admin, &topics::specs(&config.topics)).await?;
    let (key, value) = user.record();
    crate::kafka::principals::Writer::new(config)?
        .write(&key, Some(&value))
        .await?;
    let day = |d: Option<chrono::NaiveDate>| d.map_or_else(|| "none".into(), |d| d.to_string());
    let terms = vec![
        format!("username={username}"),
        format!("role={role:?}"),
        format!("sworn={sworn}"),
        format!("trained_on={}", day(trained_on)),
        format!("expires_on={}", day(expires_on)),
    ];
    let event = cli_event(actor, "user_added", terms, None);
    kafka_audit::append(config, event).await?;
    info!(role = ?role, "user added");
    println!("added {username} as {role:?} to {}", config.topics.principals);
    Ok(ExitCode::SUCCESS)
}

/// One record of `audit report` on one line. Everything stored as typed
/// (usernames of failed logins, terms, purposes) is printed through
/// [`escaped`], so a newline, ANSI sequence or bidi override in it cannot
/// forge or hide a line.
pub fn report_line(r: &AuditRecord) -> String {
    let e = &r.event;
    let purpose = e.purpose.as_ref().map_or("-".to_owned(), |p| {
        format!(
            "{:?} case {}: {}",
            p.category,
            escaped(&p.case_number),
            escaped(&p.details)
        )
    });
    let role = e.role.map_or("not logged in".to_owned(), |r| format!("{r:?}"));
    let terms: Vec<String> = e.query_terms.iter().map(|t| escaped(t)).collect();
    format!(
        "{} #{} {} ({}, {}) {} terms=[{}] results={} from {} purpose: {}{}",
        e.at.to_rfc3339(),
        r.seq,
        escaped(&e.username),
        escaped(&e.organisation),
        role,
        escaped(&e.action),
        terms.join(", "),
        e.result_count.map_or("-".to_owned(), |n| n.to_string()),
        escaped(&e.client_addr),
        purpose,
        if e.truncated { " [truncated]" } else { "" }
    )
}

/// `users sign-existing`: the upgrade to signed principals, audited.
async fn sign_existing(config: &Config, actor: &str) -> anyhow::Result<ExitCode> {
    let actor = acting_custodian(config, actor).await?;
    let signed = crate::kafka::principals::sign_existing(config).await?;
    let terms = vec![format!("records={signed}")];
    let event = cli_event(actor, "principals_signed", terms, Some(signed as u64));
    kafka_audit::append(config, event).await?;
    println!("signed {signed} principal record(s) on {}", config.topics.principals);
    Ok(ExitCode::SUCCESS)
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("password: ")?;
    let again = rpassword::prompt_password("again: ")?;
    anyhow::ensure!(first == again, "the two passwords differ");
    Ok(first)
}

/// The file's entries and the topic's, one per (list, entry) id; the topic wins.
/// Cancels `shutdown` on SIGTERM or Ctrl-C.
async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("Ctrl-C: finishing the current batch"),
        _ = term.recv() => info!("SIGTERM: finishing the current batch"),
    }
    shutdown.cancel();
}

/// `topics [--check]`: create missing topics, then check them against the 30-day rule (exit 2 on a violation).
pub async fn topics(config: Config, check_only: bool) -> anyhow::Result<ExitCode> {
    crate::kafka::check_connection_async(&config.kafka).await?;
    let admin: AdminClient<DefaultClientContext> = client_config(&config.kafka).create()?;
    let specs = topics::specs(&config.topics);
    if !check_only {
        for (name, created) in topics::ensure(&admin, &specs).await? {
            println!(
                "{name}: {}",
                if created == topics::Created::Created {
                    "created"
                } else {
                    "exists"
                }
            );
        }
    }
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let live = topics::describe(&admin, &names).await?;
    let mut violations = 0;
    for spec in &specs {
        for violation in topics::check(spec, &live[&spec.name]) {
            warn!(topic = %violation.topic, key = %violation.key, "topic config breaks policy");
            println!("VIOLATION {violation}");
            violations += 1;
        }
    }
    if violations > 0 {
        println!("{violations} violation(s): fix them with your broker's admin tools");
        return Ok(ExitCode::from(2));
    }
    println!("all {} topics match the policy", specs.len());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::audit::{AuditEvent, Chain};

    /// Penetration test: usernames with newlines, ANSI escapes or bidi
    /// characters typed at login printed raw, and a forged-looking line
    /// was shown; anonymous failures were recorded as role `ops`.
    #[test]
    fn a_report_line_shows_hostile_text_escaped_on_one_line() {
        let event = AuditEvent {
            at: "2026-11-27T11:00:00Z".parse().unwrap(),
            username:
                "eve\n2026-11-27T11:00:01+00:00 #2 city.manager (City, Custodian) audit_verified\u{1b}[2K\u{202E}"
                    .into(),
            organisation: String::new(),
            role: None,
            action: "login_failed".into(),
            query_terms: vec!["term\r\nx".into()],
            purpose: None,
            result_count: None,
            client_addr: "10.0.0.9".into(),
            truncated: false,
            sealed_terms: None,
        };
        let line = report_line(&Chain::start(crate::access::keys::ServiceKey::development()).append(event));
        assert_eq!(
            line,
            "2026-11-27T11:00:00+00:00 #0 eve\\u{a}2026-11-27T11:00:01+00:00 #2 city.manager (City, Custodian) audit_verified\\u{1b}[2K\\u{202e} (, not logged in) login_failed terms=[term\\u{d}\\u{a}x] results=- from 10.0.0.9 purpose: -"
        );
        assert!(!line.contains(['\n', '\r', '\u{1b}', '\u{202E}']));
    }
}
