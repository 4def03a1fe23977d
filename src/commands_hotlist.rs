//! The hotlist commands an agency clerk and the custodian run: `hotlist
//! upload` (with `--dry-run` and `--skip-invalid`), `hotlist lists`,
//! `hotlist show` and `hotlist remove`.
//!
//! Wiring only: validation is [`crate::hotlist::feed`], the diff
//! [`crate::hotlist::plan`] and [`crate::hotlist::preview`], the table
//! [`crate::hotlist::listing`]; the topic is [`crate::kafka::hotlist`].
//! Whatever shows entries to a person, or changes a list, is on the audit
//! log first.

use std::process::ExitCode;

use anyhow::Context;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;

use super::actor::{acting_custodian, cli_event};
use crate::access::audit::{upload_terms, Purpose, PurposeCategory};
use crate::cli::{ShowArgs, UploadArgs};
use crate::config::Config;
use crate::hotlist::plan::Uploader;
use crate::hotlist::preview::{self, Previewed};
use crate::hotlist::{feed, listing, Category};
use crate::kafka::audit as kafka_audit;
use crate::kafka::hotlist as kafka_hotlist;
use crate::kafka::{client_config, topics};

/// The command line uploads as this organisation, not held to ownership.
const COMMAND_LINE: Uploader<'static> = Uploader {
    organisation: "command line",
    enforce_owner: false,
    covert: None,
    registered_owner: None,
};

/// `hotlist upload`: validate a file whole, then replace the list on the
/// topic (exit 2 listing every bad line); `--skip-invalid` applies the
/// good rows; `--dry-run` prints the diff and writes nothing.
pub async fn upload_hotlist(config: &Config, args: UploadArgs) -> anyhow::Result<ExitCode> {
    let actor = acting_custodian(config, &args.actor).await?;
    let list = args.list.as_str();
    crate::text::check_id(list).map_err(|e| anyhow::anyhow!("--list {e}"))?;
    let format = feed::Format::parse(&args.format).with_context(|| format!("unknown format {:?}", args.format))?;
    let category = Category::parse(&args.category).with_context(|| format!("unknown category {:?}", args.category))?;
    crate::access::audit::check_reason(&args.reason)?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let options = feed::FeedOptions {
        list_id: list.to_owned(),
        category,
        limits: config.hotlist.limits,
    };
    let skip = args.skip_invalid.then_some(config.hotlist.skip_invalid);
    let parsed = match feed::parse_rows(&bytes, &format, &options).and_then(|p| feed::accept(p, skip)) {
        Ok(parsed) => parsed,
        Err(e) => {
            println!("nothing uploaded: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    for row in &parsed.errors {
        println!("skipped {row}");
    }
    let skipped = parsed.errors.len();
    eprintln!(
        "{}: {} valid row(s), {skipped} skipped; comparing with list {list} on {}",
        args.file.display(),
        parsed.entries.len(),
        config.topics.hotlist
    );
    let entries = match args.effective_at {
        Some(at) => feed::effective_from(parsed.entries, at),
        None => parsed.entries,
    };
    let mut terms = vec![
        format!("list={list}"),
        format!("file={}", args.file.display()),
        format!("reason={}", args.reason),
        format!("skipped_rows={skipped}"),
    ];
    if args.dry_run {
        let Previewed::Preview(p) =
            kafka_hotlist::preview(config, list, &entries, COMMAND_LINE, args.show as usize).await?
        else {
            unreachable!("the command line is not held to list ownership");
        };
        // The diff shows plates on the list to a person: on the audit log.
        terms.push(format!("would_add={}", p.counts.added));
        terms.push(format!("would_change={}", p.counts.changed));
        terms.push(format!("would_remove={}", p.counts.removed));
        let event = cli_event(actor, "hotlist_upload_dry_run", terms, Some(entries.len() as u64));
        kafka_audit::append(config, event).await?;
        print!("{}", preview::render(&p));
        if skipped > 0 {
            println!("{skipped} bad row(s) would be skipped (listed above)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let admin: AdminClient<DefaultClientContext> = client_config(&config.kafka).create()?;
    topics::ensure(&admin, &topics::specs(&config.topics)).await?;
    eprintln!("writing the changes of list {list}, then checking retained reads against new entries");
    let outcome = match kafka_hotlist::upload(config, list, &entries, COMMAND_LINE.organisation, false).await {
        // Another upload of this list fenced this one: nothing of it applied.
        Err(e @ crate::kafka::KafkaError::Superseded { .. }) => {
            println!("nothing uploaded: {e}");
            return Ok(ExitCode::from(3));
        }
        outcome => outcome?,
    };
    let kafka_hotlist::UploadOutcome::Done(report) = outcome else {
        unreachable!("the command line is not held to list ownership");
    };
    let mut event = cli_event(actor, "hotlist_upload", terms, Some(entries.len() as u64));
    event.truncated = !upload_terms(&mut event.query_terms, &report);
    kafka_audit::append(config, event).await?;
    println!(
        "list {list}: {} added, {} changed, {} removed, {} unchanged; {} historical alert(s) from retained reads",
        report.added, report.changed, report.removed, report.unchanged, report.historical_alerts
    );
    if skipped > 0 {
        println!("{skipped} bad row(s) skipped (listed above)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `hotlist lists`: every list on the topic, one a line.
pub fn hotlist_lists(config: &Config) -> anyhow::Result<ExitCode> {
    let (records, lists) = kafka_hotlist::records(config)?;
    let rows = listing::rows(&records, &lists, chrono::Utc::now(), config.hotlist.max_age);
    print!("{}", listing::render(&rows));
    Ok(ExitCode::SUCCESS)
}

/// `hotlist show`: a list's entries (or one plate's), for a custodian
/// with a purpose, audited before anything is read or shown.
pub async fn hotlist_show(config: &Config, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let actor = acting_custodian(config, &args.actor).await?;
    crate::text::check_id(&args.list).map_err(|e| anyhow::anyhow!("LIST {e}"))?;
    let category: PurposeCategory = serde_json::from_value(serde_json::Value::String(args.purpose.clone()))
        .map_err(|_| anyhow::anyhow!("--purpose {:?} is not a purpose category", args.purpose))?;
    let purpose = Purpose {
        category,
        case_number: args.case_number.clone(),
        details: args.reason.clone(),
    };
    purpose
        .validate()
        .map_err(|e| anyhow::anyhow!("--case-number/--reason: {e}"))?;
    // The canonical plate, or a pattern's text as stored.
    let plate = args
        .plate
        .as_deref()
        .map(|p| crate::normalize::normalize(p).map_or_else(|_| p.trim().to_uppercase(), |plate| plate.to_string()));
    let mut terms = vec![format!("list={}", args.list)];
    terms.extend(plate.as_ref().map(|p| format!("plate={p}")));
    let mut event = cli_event(actor, "hotlist_show", terms, None);
    event.purpose = Some(purpose);
    kafka_audit::append(config, event).await?;
    let (records, _) = kafka_hotlist::records(config)?;
    let shown = listing::entries_of(&records, &args.list, plate.as_deref());
    for record in &shown {
        println!("{}", listing::entry_line(record));
    }
    println!(
        "{} entr{} shown",
        shown.len(),
        if shown.len() == 1 { "y" } else { "ies" }
    );
    Ok(ExitCode::SUCCESS)
}

/// `hotlist remove`: tombstones for a whole list, audited with the reason.
pub async fn hotlist_remove(config: &Config, list: &str, reason: &str, actor: &str) -> anyhow::Result<ExitCode> {
    let actor = acting_custodian(config, actor).await?;
    crate::text::check_id(list).map_err(|e| anyhow::anyhow!("LIST {e}"))?;
    let reason = crate::access::audit::check_reason(reason)?;
    let (records, lists) = kafka_hotlist::records(config)?;
    if !lists.contains_key(list) && !records.values().any(|r| r.list_id == list) {
        println!("no list {list} on {}", config.topics.hotlist);
        return Ok(ExitCode::from(2));
    }
    let removed = kafka_hotlist::remove_list(config, list).await?;
    let terms = vec![format!("list={list}"), format!("reason={reason}")];
    kafka_audit::append(config, cli_event(actor, "hotlist_removed", terms, Some(removed as u64))).await?;
    println!(
        "list {list} removed: {removed} entr{}",
        if removed == 1 { "y" } else { "ies" }
    );
    Ok(ExitCode::SUCCESS)
}
