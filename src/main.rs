//! The `hotlist-matcher` command: thin wiring over the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use hotlist_matcher::api::audit::{self, AuditEvent};
use hotlist_matcher::api::auth::{self, Role};
use hotlist_matcher::api::principals::User;
use hotlist_matcher::api::server;
use hotlist_matcher::config::Config;
use hotlist_matcher::demo::{self, DemoOptions};
use hotlist_matcher::hotlist::{feed, Category};
use hotlist_matcher::hotlist::{load_csv_file, LiveMatcher};
use hotlist_matcher::kafka::audit as kafka_audit;
use hotlist_matcher::kafka::hotlist as kafka_hotlist;
use hotlist_matcher::kafka::{client_config, source::Source, topics};
use hotlist_matcher::metrics::Metrics;
use hotlist_matcher::{accuracy, bench};
use rdkafka::producer::{FutureProducer, FutureRecord};

#[derive(Parser)]
#[command(version, about = "Matches ALPR plate reads against hotlists and alerts dispatch")]
struct Cli {
    /// Config file; without it the built-in defaults (config/default.toml) apply.
    #[arg(long, short, global = true, env = "HOTLIST_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Consume reads, match them and produce alerts until SIGTERM or Ctrl-C.
    Serve,
    /// Run the whole pipeline on an embedded broker with sample data.
    Demo {
        /// Reads to stream.
        #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u32).range(100..=100_000))]
        reads: u32,
        /// Use this broker instead of the embedded one.
        #[arg(long)]
        bootstrap_servers: Option<String>,
        /// Seed for the synthetic reads.
        #[arg(long, default_value_t = 2023_56)]
        seed: u64,
        /// Keep the HTTPS API up after the summary, until Ctrl-C.
        #[arg(long)]
        serve: bool,
    },
    /// Measurements: `bench accuracy` prints recall and false alarms per tolerance.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Hotlists: `hotlist upload` replaces a list on the hotlist topic.
    Hotlist {
        #[command(subcommand)]
        what: HotlistCommand,
    },
    /// Users of the API: `users add` bootstraps the first custodian.
    Users {
        #[command(subcommand)]
        what: UsersCommand,
    },
    /// The SB 34 access log: `audit verify` checks the hash chain,
    /// `audit report` prints who did what and why.
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Create missing topics, then check every topic's live config against the policy.
    Topics {
        /// Only check; create nothing.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum HotlistCommand {
    /// Validate FILE completely, then replace list LIST with it: new and
    /// changed entries are written, missing ones removed. A file with any
    /// bad line changes nothing and prints every error.
    Upload {
        file: PathBuf,
        #[arg(long)]
        list: String,
        /// csv, fixed (OpenALPR fixed-width layout), ncic (field codes), jsonl.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Category of entries whose format does not carry one.
        #[arg(long, default_value = "stolen_vehicle")]
        category: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a custodian (the City Manager). The password is asked twice
    /// without echo, or read from standard input with --password-stdin.
    /// Every other user is added by a custodian through the API.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        organisation: String,
        #[arg(long, default_value = "custodian")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every record's hash and link; exit 2 naming the first broken one.
    Verify,
    /// Every record between two RFC 3339 times: when, who, what, why.
    Report {
        #[arg(long)]
        from: chrono::DateTime<chrono::Utc>,
        #[arg(long)]
        to: chrono::DateTime<chrono::Utc>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Recall per kind of misread and false alarms per 10,000 innocent reads,
    /// per tolerance, on synthetic hotlists of the given sizes.
    Accuracy {
        /// Hotlist sizes, comma separated.
        #[arg(long, value_delimiter = ',', default_values_t = [100_000usize, 1_000_000])]
        sizes: Vec<usize>,
        /// Reads per kind of misread.
        #[arg(long, default_value_t = 2_000)]
        reads: usize,
        /// Reads of plates not on the list.
        #[arg(long, default_value_t = 10_000)]
        innocent: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Writes N synthetic entries to the configured hotlist topic (as list
    /// `bench-load`), then times reading the whole topic back and building
    /// the matcher, as every instance does at start. Needs a broker.
    HotlistLoad {
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
    },
    /// Uploads N synthetic entries (list `bench-replace`), starts an instance
    /// in this process, then replaces the list from a separate `hotlist
    /// upload` process with every entry changed: reports when the instance
    /// had applied it after the acks, its peak memory, and its matching speed
    /// during the replacement against before. Needs a broker.
    HotlistReplace {
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
    },
    /// Reads per second through the service's source against a bare
    /// rdkafka consumer of the same topic, same broker, same run (fresh
    /// topics named bench-<pid>.*). Needs a broker.
    Throughput {
        #[arg(long, default_value_t = 1_000_000)]
        reads: usize,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("HOTLIST_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo {
            reads,
            bootstrap_servers,
            seed,
            serve,
        } => {
            let options = DemoOptions {
                reads: reads as usize,
                bootstrap_servers,
                seed,
                serve,
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
                },
        } => {
            let options = accuracy::Options {
                sizes,
                reads_per_noise: reads,
                innocent_reads: innocent,
                seed,
            };
            accuracy::run(&options, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::HotlistLoad { entries },
        } => {
            print!(
                "{}",
                bench::hotlist_load(&Config::load(cli.config.as_deref())?, entries).await?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::Throughput { reads },
        } => {
            print!(
                "{}",
                bench::throughput(&Config::load(cli.config.as_deref())?, reads).await?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::HotlistReplace { entries },
        } => {
            let config = Config::load(cli.config.as_deref())?;
            let exe = std::env::current_exe().context("finding this program for the upload process")?;
            print!(
                "{}",
                bench::hotlist_replace(&config, &exe, cli.config.as_deref(), entries).await?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Users {
            what:
                UsersCommand::Add {
                    username,
                    organisation,
                    role,
                    password_stdin,
                },
        } => {
            let config = Config::load(cli.config.as_deref())?;
            add_user(&config, &username, &organisation, &role, password_stdin).await
        }
        Command::Hotlist {
            what:
                HotlistCommand::Upload {
                    file,
                    list,
                    format,
                    category,
                    reason,
                },
        } => {
            let config = Config::load(cli.config.as_deref())?;
            upload_hotlist(&config, &file, &list, &format, &category, &reason).await
        }
        Command::Audit { what } => audit_command(&Config::load(cli.config.as_deref())?, what),
        Command::Topics { check } => topics_command(Config::load(cli.config.as_deref())?, check).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    hotlist_matcher::kafka::check_connection_async(&config.kafka).await?;
    let entries = load_csv_file(&config.hotlist.path, config.hotlist.limits)
        .with_context(|| format!("loading the hotlist {}", config.hotlist.path.display()))?;
    info!(entries = entries.len(), "hotlist loaded");
    let loaded = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || kafka_hotlist::load(&config)).await??
    };
    info!(
        entries = loaded.entries.len(),
        lists = loaded.lists.len(),
        "hotlist topic read"
    );
    let matcher = Arc::new(
        LiveMatcher::new(merge_entries(entries, loaded.entries), config.matching.clone())
            .with_fold_fraction(config.hotlist.fold_fraction),
    );
    let lists: kafka_hotlist::Lists = Arc::new(std::sync::RwLock::new(loaded.lists));
    let metrics = Metrics::new();
    let source = Source::new(&config, matcher.clone(), metrics.clone())?;
    let shutdown = CancellationToken::new();
    kafka_hotlist::follow(&config, loaded.end, matcher, lists.clone(), shutdown.clone())?;
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let clock = hotlist_matcher::system_clock();
    let api = server::start(&config, metrics, clock, lists, shutdown.clone())
        .await
        .context("starting the API (have the topics been created? run `hotlist-matcher topics`)")?;
    info!(address = %api.address, "API started");
    source.run(shutdown).await?;
    api.task.await??;
    info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

fn audit_command(config: &Config, what: AuditCommand) -> anyhow::Result<ExitCode> {
    let records = kafka_audit::read_all(config)?;
    match what {
        AuditCommand::Verify => match audit::verify(&records) {
            Ok(()) => {
                println!("audit chain intact: {} records", records.len());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("AUDIT CHAIN BROKEN: {e}");
                Ok(ExitCode::from(2))
            }
        },
        AuditCommand::Report { from, to } => {
            for r in records.iter().filter(|r| r.event.at >= from && r.event.at <= to) {
                let e = &r.event;
                let purpose = e.purpose.as_ref().map_or("-".to_owned(), |p| {
                    format!("{:?} case {}: {}", p.category, p.case_number, p.details)
                });
                println!(
                    "{} #{} {} ({}, {:?}) {} terms={:?} results={} from {} purpose: {}",
                    e.at.to_rfc3339(),
                    r.seq,
                    e.username,
                    e.organisation,
                    e.role,
                    e.action,
                    e.query_terms,
                    e.result_count.map_or("-".to_owned(), |n| n.to_string()),
                    e.client_addr,
                    purpose
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Validates a hotlist file and replaces the list on the topic.
async fn upload_hotlist(
    config: &Config,
    file: &std::path::Path,
    list: &str,
    format: &str,
    category: &str,
    reason: &str,
) -> anyhow::Result<ExitCode> {
    let format = feed::Format::parse(format).with_context(|| format!("unknown format {format:?}"))?;
    let category = Category::parse(category).with_context(|| format!("unknown category {category:?}"))?;
    anyhow::ensure!(reason.trim().len() >= 5, "give a reason of at least 5 characters");
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let options = feed::FeedOptions {
        list_id: list.to_owned(),
        category,
        limits: config.hotlist.limits,
    };
    let entries = match feed::parse(&bytes, &format, &options) {
        Ok(entries) => entries,
        Err(e) => {
            println!("nothing uploaded: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let admin: AdminClient<DefaultClientContext> = client_config(&config.kafka).create()?;
    topics::ensure(&admin, &topics::specs(&config.topics)).await?;
    let outcome = kafka_hotlist::upload(config, list, &entries, "command line", false).await?;
    let kafka_hotlist::UploadOutcome::Done(report) = outcome else {
        unreachable!("the command line is not held to list ownership");
    };
    let event = AuditEvent {
        at: chrono::Utc::now(),
        username: whoami(),
        organisation: "command line".into(),
        role: Role::Custodian,
        action: "hotlist_upload".into(),
        query_terms: vec![
            format!("list={list}"),
            format!("file={}", file.display()),
            format!(
                "added={} changed={} removed={}",
                report.added, report.changed, report.removed
            ),
            format!("reason={reason}"),
        ],
        purpose: None,
        result_count: Some(entries.len() as u64),
        client_addr: "local".into(),
    };
    kafka_audit::append(config, event).await?;
    println!(
        "list {list}: {} added, {} changed, {} removed, {} unchanged; {} historical alert(s) from retained reads",
        report.added, report.changed, report.removed, report.unchanged, report.historical_alerts
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a new custodian to the principals topic.
async fn add_user(
    config: &Config,
    username: &str,
    organisation: &str,
    role: &str,
    password_stdin: bool,
) -> anyhow::Result<ExitCode> {
    let role = Role::parse(role).with_context(|| format!("unknown role {role:?}"))?;
    anyhow::ensure!(
        role == Role::Custodian,
        "the command line adds custodians only; a custodian adds other users through the API"
    );
    let password = read_password(password_stdin)?;
    let user = User::new(username, organisation, role, auth::hash_password(&password)?)?;
    let admin: AdminClient<DefaultClientContext> = client_config(&config.kafka).create()?;
    topics::ensure(&admin, &topics::specs(&config.topics)).await?;
    let producer: FutureProducer = client_config(&config.kafka).set("acks", "all").create()?;
    let (key, value) = user.record();
    producer
        .send(
            FutureRecord::to(&config.topics.principals).key(&key).payload(&value),
            std::time::Duration::from_secs(30),
        )
        .await
        .map_err(|(e, _)| e)?;
    let event = AuditEvent {
        at: chrono::Utc::now(),
        username: whoami(),
        organisation: "command line".into(),
        role,
        action: "user_added".into(),
        query_terms: vec![format!("username={username}"), format!("role={role:?}")],
        purpose: None,
        result_count: None,
        client_addr: "local".into(),
    };
    kafka_audit::append(config, event).await?;
    info!(role = ?role, "user added");
    println!("added {username} as {role:?} to {}", config.topics.principals);
    Ok(ExitCode::SUCCESS)
}

/// The operating-system account running the command, for the audit record.
fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
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
fn merge_entries(
    file: Vec<Arc<hotlist_matcher::hotlist::HotlistEntry>>,
    topic: Vec<Arc<hotlist_matcher::hotlist::HotlistEntry>>,
) -> Vec<Arc<hotlist_matcher::hotlist::HotlistEntry>> {
    let mut by_key = std::collections::BTreeMap::new();
    for entry in file.into_iter().chain(topic) {
        by_key.insert((entry.list_id.clone(), entry.entry_id.clone()), entry);
    }
    by_key.into_values().collect()
}

/// Cancels `shutdown` on SIGTERM or Ctrl-C.
async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("Ctrl-C: finishing the current batch"),
        _ = term.recv() => info!("SIGTERM: finishing the current batch"),
    }
    shutdown.cancel();
}

async fn topics_command(config: Config, check_only: bool) -> anyhow::Result<ExitCode> {
    hotlist_matcher::kafka::check_connection_async(&config.kafka).await?;
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
