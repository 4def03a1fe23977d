//! The command line, declared once with clap: every subcommand, its
//! arguments and help. Parsing only; [`crate::commands::run`] does the work.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Matches ALPR plate reads against hotlists and alerts dispatch")]
pub struct Cli {
    /// Config file; without it the built-in defaults (config/default.toml) apply.
    #[arg(long, short, global = true, env = "HOTLIST_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Consume reads, match them and produce alerts until SIGTERM or Ctrl-C.
    /// Lists come from the hotlist topic; hotlist.path adds a static file.
    #[command(after_help = SERVE_HELP)]
    Serve,
    /// Run the whole pipeline on an embedded broker with sample data.
    Demo {
        /// Reads to stream.
        #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u32).range(100..=10_000_000))]
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
        /// Print every alert (by default the first 50, then a count).
        #[arg(long)]
        all: bool,
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
    /// The 30-day rule: `retention verify` prints the oldest record kept of
    /// every topic holding ALPR data and exits 2 if one is kept too long.
    Retention {
        #[command(subcommand)]
        what: RetentionCommand,
    },
    /// For an investigator: print the plaintext of sealed records of an
    /// ALPR topic (one JSON line each), once the access is on the audit
    /// log. A record whose day key is destroyed (past the 30 days) prints
    /// why, never its bytes.
    Decrypt(DecryptArgs),
    /// Dispatch's decisions on alerts: `alerts rejections-report` counts
    /// confirmed and rejected-as-misread alerts per list, confusion kind and
    /// camera, to tune a list's false-alarm budget from the City's own data.
    Alerts {
        #[command(subcommand)]
        what: AlertsCommand,
    },
    /// Create missing topics, then check every topic's live config against the policy.
    #[command(
        after_help = "Config: kafka.*, topics.*. Environment: HOTLIST_CONFIG, HOTLIST_BOOTSTRAP_SERVERS, \
HOTLIST_KAFKA_PROPERTY_<NAME>."
    )]
    Topics {
        /// Only check; create nothing.
        #[arg(long)]
        check: bool,
    },
    /// Shell completions (bash, zsh, fish, elvish, powershell) on standard
    /// output, generated from this command line's definition, e.g.
    /// `hotlist-matcher completions bash > /etc/bash_completion.d/hotlist-matcher`.
    Completions { shell: clap_complete::Shell },
    /// The man page (roff) on standard output, generated from this command
    /// line's definition, e.g. `hotlist-matcher man > hotlist-matcher.1`.
    Man,
}

/// What `serve --help` says about its settings.
const SERVE_HELP: &str = "Config: every key of config/default.toml (kafka.*, topics.*, pipeline.*, hotlist.*, \
matching.*, api.*, dispatch.*, security.*, access.*). Environment: HOTLIST_CONFIG, HOTLIST_BOOTSTRAP_SERVERS, \
HOTLIST_GROUP_ID, HOTLIST_INSTANCE_ID, HOTLIST_HOTLIST_PATH (empty: no static file), \
HOTLIST_KAFKA_PROPERTY_<NAME>, HOTLIST_SERVICE_KEY_FILE, HOTLIST_MASTER_KEY_FILE, HOTLIST_LOG, HOTLIST_LOG_FORMAT.";

#[derive(Subcommand)]
pub enum HotlistCommand {
    /// Validate FILE completely, then replace list LIST with it: new and
    /// changed entries are written, missing ones removed. A file with any
    /// bad line changes nothing and prints every error (exit 2), unless
    /// --skip-invalid. --dry-run shows what would change and writes nothing.
    #[command(
        after_help = "Config: kafka.*, topics.hotlist, hotlist.max_file_bytes, hotlist.max_rows, \
hotlist.max_invalid_percent. Environment: HOTLIST_CONFIG, HOTLIST_ACTOR, HOTLIST_BOOTSTRAP_SERVERS."
    )]
    Upload(UploadArgs),
    /// Every list on the hotlist topic: id, owner, category, entries, last
    /// refresh, stale (not refreshed within hotlist.max_age_hours) or not, covert.
    #[command(after_help = "Config: kafka.*, topics.hotlist, hotlist.max_age_hours. \
Environment: HOTLIST_CONFIG, HOTLIST_BOOTSTRAP_SERVERS.")]
    Lists,
    /// The entries of one list (or of one plate on it), for a custodian with
    /// a stated purpose; the access is on the audit log before anything is shown.
    #[command(after_help = "Config: kafka.*, topics.hotlist, topics.audit. \
Environment: HOTLIST_CONFIG, HOTLIST_ACTOR, HOTLIST_BOOTSTRAP_SERVERS.")]
    Show(ShowArgs),
    /// Remove a whole list: a tombstone for each entry and for the list
    /// record; audited with the reason. Every instance stops matching it.
    #[command(after_help = "Config: kafka.*, topics.hotlist, topics.audit. \
Environment: HOTLIST_CONFIG, HOTLIST_ACTOR, HOTLIST_BOOTSTRAP_SERVERS.")]
    Remove {
        list: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
        /// The custodian doing this, by username (recorded in the audit log).
        #[arg(long, env = "HOTLIST_ACTOR")]
        actor: String,
    },
}

/// What `hotlist upload` uploads and how.
#[derive(clap::Args, Debug)]
pub struct UploadArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub list: String,
    /// csv, fixed (OpenALPR fixed-width layout), ncic (field codes), jsonl.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Category of entries whose format does not carry one.
    #[arg(long, default_value = "stolen_vehicle")]
    pub category: String,
    /// Why (recorded in the audit log).
    #[arg(long)]
    pub reason: String,
    /// The custodian doing this, by username (recorded in the audit log).
    #[arg(long, env = "HOTLIST_ACTOR")]
    pub actor: String,
    /// Validate and compare with the topic, print what would be added,
    /// changed and removed, and write nothing (exit 0, or 2 for a bad file).
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: how many rows of each kind to print.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub show: u32,
    /// Apply the valid rows and report every skipped one; refused when more
    /// than hotlist.max_invalid_percent of the rows are bad.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Entries without their own effective_at match only from this RFC 3339
    /// time (for formats without dates: ncic, fixed).
    #[arg(long)]
    pub effective_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What `hotlist show` shows and why.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    pub list: String,
    /// Only the entries of this plate.
    #[arg(long)]
    pub plate: Option<String>,
    /// compliance_audit, criminal_investigation, stolen_vehicle, ...
    #[arg(long, default_value = "compliance_audit")]
    pub purpose: String,
    /// The case, incident or report number (3 to 40 characters).
    #[arg(long)]
    pub case_number: String,
    /// Why (10 to 1000 characters); on the audit log.
    #[arg(long)]
    pub reason: String,
    /// The custodian doing this, by username (recorded in the audit log).
    #[arg(long, env = "HOTLIST_ACTOR")]
    pub actor: String,
}

#[derive(Subcommand)]
pub enum UsersCommand {
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
        /// A sworn officer (policy §3, §6).
        #[arg(long)]
        sworn: bool,
        /// The day of the user's last ALPR training (YYYY-MM-DD, not in the future).
        #[arg(long)]
        trained_on: Option<chrono::NaiveDate>,
        /// The last day (UTC) the account may be used (YYYY-MM-DD); without it, no expiry.
        #[arg(long)]
        expires_on: Option<chrono::NaiveDate>,
        /// The custodian doing this, by username (recorded in the audit
        /// log); for the first custodian, the name of the person adding it.
        #[arg(long, env = "HOTLIST_ACTOR")]
        actor: String,
    },
    /// Upgrading to signed principals: sign, with the service key, every
    /// current record on the principals topic that carries no valid MAC
    /// (records written before principals were signed). Review the topic
    /// first: whatever is on it now is trusted from then on.
    SignExisting {
        /// The custodian doing this (recorded in the audit log).
        #[arg(long, env = "HOTLIST_ACTOR")]
        actor: String,
    },
}

#[derive(Subcommand)]
pub enum AlertsCommand {
    /// Every alert on the alerts topic, folded into incidents as the board
    /// folds them, with dispatch's decisions from the alert-state topic:
    /// per list, per list and confusion kind (exact, ocr_lookalike,
    /// end_truncation, ...) and per camera, the incidents, confirmed,
    /// rejected as misread, rejected otherwise, and the misreads' share of
    /// those confirmed or rejected as misread. Counts only, never a plate;
    /// the access is on the audit log first.
    RejectionsReport {
        /// Why (recorded in the audit log; 10 to 1000 characters).
        #[arg(long)]
        reason: String,
        /// Who, by username: a user who may manage every hotlist (recorded in the audit log).
        #[arg(long, env = "HOTLIST_ACTOR")]
        actor: String,
    },
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// For every partition of every ALPR topic, the age of the oldest
    /// record kept; exit 2 if one is older than the retention allows.
    Verify,
}

#[derive(Subcommand)]
pub enum AuditCommand {
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
pub enum BenchCommand {
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
        /// Whose plates: `national` (every state's formats, by registered
        /// vehicles), `california` (one state's list), or `legacy` (the
        /// original California-leaning harness, for comparison).
        #[arg(long, default_value = "national", value_parser = ["national", "california", "legacy"])]
        mix: String,
        /// Percent of reads whose OCR state estimate is another state.
        #[arg(long, default_value_t = 10)]
        wrong_state_percent: u32,
    },
    /// The second half of `hotlist-load`, run by it in a process of its
    /// own so nothing of the load phases is resident: starts the whole
    /// service over the topic and reports its memory per entry.
    #[command(hide = true)]
    ServiceMemory {
        #[arg(long)]
        entries: usize,
        /// Upload this replacement (JSON lines) from another process and
        /// report again once applied; `checked` (JSON lines) shows it is.
        #[arg(long, requires = "checked")]
        replacement: Option<std::path::PathBuf>,
        #[arg(long)]
        checked: Option<std::path::PathBuf>,
    },
    /// Writes N synthetic entries to the configured hotlist topic (as list
    /// `bench-load`), then times reading the whole topic back and building
    /// the matcher, as every instance does at start; then starts the whole
    /// service over the topic and reports its heap and resident bytes per
    /// entry. Needs a broker.
    HotlistLoad {
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
        /// Also replace the whole list while the service runs (every entry
        /// changed, as a nightly extract does) and report memory after.
        #[arg(long)]
        live_changes: bool,
        /// Delete the hotlist topic afterwards (big lists take gigabytes).
        #[arg(long)]
        delete: bool,
    },
    /// Writes N synthetic retained reads to a reads topic of its own (kept
    /// for the next run unless --delete), then times a historical replay
    /// of a list's new entries over them, before and after issue 16,
    /// against a bare read of the topic in the same run. Needs a broker.
    Replay {
        #[arg(long, default_value_t = 1_000_000)]
        reads: usize,
        /// How many new entries the replay checks the reads against.
        #[arg(long, default_value_t = 1_000)]
        new_entries: usize,
        /// Delete the bench's reads and alerts topics afterwards.
        #[arg(long)]
        delete: bool,
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
    /// Capture -> alert on the alerts topic through the service's source,
    /// p50/p99, at a steady rate, against a bare consumer's latency for the
    /// same reads. Needs a broker (fresh topics named bench-<pid>-latency.*).
    Latency {
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// One read in this many is a hit (a timed sample).
        #[arg(long, default_value_t = 20)]
        hit_every: usize,
    },
    /// Read produced -> `incident` event on a logged-in board's SSE stream,
    /// p50/p99, at a steady rate with one read in 100 a hit, against a bare
    /// consumer's latency for the same reads. Needs a broker (fresh topics).
    BoardLatency {
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
    },
    /// Webhook deliveries per second to a local HTTPS receiver, against
    /// direct signed POSTs in the same run. Needs a broker (fresh topics).
    WebhookThroughput {
        #[arg(long, default_value_t = 5_000)]
        alerts: usize,
    },
    /// The HTTPS API under logins, searches and uploads from three `wrk`
    /// processes (REQUESTS of each), and matching speed meanwhile against
    /// the API idle, same run. Needs a broker (fresh topics) and `wrk`.
    ApiLoad {
        #[arg(long, default_value_t = 100_000)]
        reads: usize,
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
    },
}

/// What `decrypt` reads and why.
#[derive(clap::Args, Debug)]
pub struct DecryptArgs {
    /// The topic as configured, e.g. alpr.alerts.
    #[arg(long)]
    pub topic: String,
    #[arg(long)]
    pub partition: i32,
    /// The first offset to show.
    #[arg(long)]
    pub offset: i64,
    /// How many records from there (1 to 1000).
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// The user reading: enabled, and allowed to search alerts.
    #[arg(long)]
    pub actor: String,
    /// The case, incident or report number (3 to 40 characters).
    #[arg(long)]
    pub case_number: String,
    /// Why (10 to 1000 characters); on the audit log.
    #[arg(long)]
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn completions_and_the_man_page_come_from_the_definition() {
        let mut bash = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "hotlist-matcher",
            &mut bash,
        );
        let bash = String::from_utf8(bash).unwrap();
        assert!(
            bash.contains("--dry-run") && bash.contains("--skip-invalid"),
            "upload's flags complete"
        );
        let mut man = Vec::new();
        clap_mangen::Man::new(Cli::command()).render(&mut man).unwrap();
        let man = String::from_utf8(man).unwrap();
        assert!(
            man.starts_with(".ie") || man.contains(".TH hotlist-matcher"),
            "{}",
            &man[..200.min(man.len())]
        );
        assert!(man.contains("completions"), "subcommands listed");
    }

    #[test]
    fn help_names_the_config_keys_and_environment() {
        let mut cli = Cli::command();
        let upload = cli
            .find_subcommand_mut("hotlist")
            .and_then(|h| h.find_subcommand_mut("upload"))
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(
            upload.contains("hotlist.max_invalid_percent") && upload.contains("HOTLIST_ACTOR"),
            "{upload}"
        );
        let serve = cli.find_subcommand_mut("serve").unwrap().render_long_help().to_string();
        assert!(
            serve.contains("HOTLIST_HOTLIST_PATH") && serve.contains("hotlist.*"),
            "{serve}"
        );
        Cli::command().debug_assert();
    }
}
