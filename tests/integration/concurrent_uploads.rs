//! Two whole-list uploads of one list at once (issue 22): the command
//! line's upload and the HTTPS upload, both real, against the real broker,
//! round after round. Each round must end with exactly one of the two
//! files on the topic and in every matcher (a fresh load, and a matcher
//! that follows the topic), the other upload either refused with the
//! conflict message or replaced by the later one; and a matcher sampled
//! all through the replacement, and loads started during it, never hold
//! a mixture of the two files.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hotlist_matcher::hotlist::LiveMatcher;

use crate::api_harness::{Api, Client};
use crate::common;

const LIST: &str = "rso-concurrent";
/// Entries in each file.
const SIZE: usize = 2_000;
const ROUNDS: usize = 8;

/// One file: `SIZE` entries `<letter><n>` with plates `<letter>` and digits.
struct File {
    csv: String,
    ids: BTreeSet<String>,
}

fn file(letter: char) -> File {
    let mut csv = String::from("entry_id,list_id,plate,region,category,priority,description\n");
    let mut ids = BTreeSet::new();
    for n in 0..SIZE {
        let id = format!("{}{n}", letter.to_ascii_lowercase());
        csv.push_str(&format!("{id},{LIST},{letter}{n:05},CA,stolen_vehicle,1,test entry\n"));
        ids.insert(id);
    }
    File { csv, ids }
}

/// The entry ids of the list in a matcher's one consistent view.
fn held(matcher: &LiveMatcher) -> BTreeSet<String> {
    matcher
        .entries()
        .iter()
        .filter(|e| e.list_id == LIST)
        .map(|e| e.entry_id.clone())
        .collect()
}

/// The entry ids of the list in a fresh load of the topic.
async fn loaded(config: &hotlist_matcher::config::Config) -> BTreeSet<String> {
    let config = config.clone();
    let loaded = tokio::task::spawn_blocking(move || hotlist_matcher::kafka::hotlist::load(&config))
        .await
        .unwrap()
        .unwrap();
    loaded
        .entries
        .iter()
        .filter(|e| e.list_id == LIST)
        .map(|e| e.entry_id.clone())
        .collect()
}

/// The name of the file `ids` are exactly, if any.
fn which(ids: &BTreeSet<String>, files: &[(&str, &File)]) -> Option<String> {
    if ids.is_empty() {
        return Some("nothing".into());
    }
    files
        .iter()
        .find(|(_, f)| f.ids == *ids)
        .map(|(name, _)| name.to_string())
}

/// The HTTPS upload of `csv`: Ok(true) done, Ok(false) refused as superseded.
fn https_upload(client: &Client, token: &str, csv: &str) -> Result<bool, String> {
    let url = format!("/api/hotlists/{LIST}?format=csv&category=stolen_vehicle&reason=nightly%20replacement");
    match client.call("POST", &url, Some(token), Some(csv)) {
        (200, _) => Ok(true),
        (409, body)
            if body.contains("another upload of list") && body.contains("nothing of this upload was applied") =>
        {
            Ok(false)
        }
        (status, body) => Err(format!("HTTPS upload answered {status}: {body}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_replacements_of_one_list_leave_exactly_one_file() {
    let api = Api::start("concurrent-uploads").await;
    let config = api.config.clone();
    let token = api.client.token("manager");
    let (a, b) = (file('A'), file('B'));
    let files = [("A", &a), ("B", &b)];
    let path = |name: &str| api.dir.path().join(format!("{name}.csv"));
    std::fs::write(path("A"), &a.csv).unwrap();
    std::fs::write(path("B"), &b.csv).unwrap();

    let follower = common::instance(&config, &api.shutdown).await;
    // The sampler: the following matcher's every view is nothing, A or B.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (follower, stop) = (Arc::clone(&follower), Arc::clone(&stop));
        let (a, b) = (a.ids.clone(), b.ids.clone());
        std::thread::spawn(move || {
            let mut samples = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let ids = held(&follower);
                assert!(
                    ids.is_empty() || ids == a || ids == b,
                    "a matcher held a mixture: {} entries",
                    ids.len()
                );
                samples += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            samples
        })
    };

    let mut refused = 0;
    for round in 0..ROUNDS {
        // Alternate which file goes through which path.
        let (cli_file, https_file) = if round % 2 == 0 { ("A", &b) } else { ("B", &a) };
        let cli_path = path(cli_file);
        let cli = hotlist_matcher::commands::upload_hotlist(
            &config,
            hotlist_matcher::cli::UploadArgs {
                file: cli_path.clone(),
                list: LIST.into(),
                format: "csv".into(),
                category: "stolen_vehicle".into(),
                reason: "nightly replacement".into(),
                actor: "manager".into(),
                dry_run: false,
                show: 10,
                skip_invalid: false,
                effective_at: None,
            },
        );
        let https = {
            let client = Client {
                base: api.client.base.clone(),
                ca: api.client.ca.clone(),
            };
            let (token, csv) = (token.clone(), https_file.csv.clone());
            tokio::task::spawn_blocking(move || https_upload(&client, &token, &csv))
        };
        // A matcher starting during the replacement loads no mixture either.
        let during = loaded(&config);
        let (cli, https, during) = tokio::join!(cli, https, during);
        let cli_done = match cli.expect("the CLI upload runs") {
            code if code == ExitCode::SUCCESS => true,
            code if code == ExitCode::from(3) => false,
            code => panic!("the CLI upload exited {code:?}"),
        };
        let https_done = https.unwrap().unwrap();
        assert!(
            which(&during, &files).is_some(),
            "round {round}: a load during the replacement held a mixture of {} entries",
            during.len()
        );
        assert!(cli_done || https_done, "round {round}: both uploads were refused");
        refused += usize::from(!cli_done) + usize::from(!https_done);

        let on_topic = loaded(&config).await;
        let winner = which(&on_topic, &files).filter(|w| w != "nothing");
        let winner = winner.unwrap_or_else(|| panic!("round {round}: the topic holds {} entries", on_topic.len()));
        if cli_done != https_done {
            let https_name = if cli_file == "A" { "B" } else { "A" };
            let expected = if cli_done { cli_file } else { https_name };
            assert_eq!(winner, expected, "round {round}: the refused upload's file stood");
        }
        let expected = if winner == "A" { &a.ids } else { &b.ids };
        assert!(
            common::wait_for(Duration::from_secs(20), || held(&follower) == *expected).await,
            "round {round}: the following matcher did not end with file {winner}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("no sample held a mixture");
    assert!(samples > 0);
    eprintln!("{ROUNDS} rounds, {refused} upload(s) refused as superseded, {samples} samples");
    api.stop().await;
}

/// Records written before issue 22 (no list version, no commit point) and
/// records produced straight to the topic still load and are followed as
/// they come; an upload then replaces them, in a fresh load and in the
/// following matcher.
#[tokio::test]
async fn records_without_a_commit_point_load_and_an_upload_replaces_them() {
    use hotlist_matcher::hotlist::feed::{self, FeedOptions, Format};
    let (config, _dir) = Api::topics("legacy-hotlist").await;
    let legacy = |id: &str, plate: &str| {
        format!(r#"{{"entry_id":"{id}","list_id":"{LIST}","plate":"{plate}","region":"CA","category":"stolen_vehicle","priority":1,"description":"legacy"}}"#)
            .into_bytes()
    };
    let keys = [format!("{LIST}/old1"), format!("{LIST}/old2")];
    let topic = config.topics.hotlist.clone();
    common::produce_keyed(&config, &topic, &keys[..1], &[legacy("old1", "OLD001")]).await;
    assert_eq!(loaded(&config).await, BTreeSet::from(["old1".to_owned()]));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let follower = common::instance(&config, &shutdown).await;
    common::produce_keyed(&config, &topic, &keys[1..], &[legacy("old2", "OLD002")]).await;
    let old = BTreeSet::from(["old1".to_owned(), "old2".to_owned()]);
    assert!(common::wait_for(Duration::from_secs(20), || held(&follower) == old).await);

    let options = FeedOptions {
        list_id: LIST.into(),
        category: hotlist_matcher::hotlist::Category::StolenVehicle,
        limits: config.hotlist.limits,
    };
    let new = file('N');
    let entries = feed::parse(new.csv.as_bytes(), &Format::parse("csv").unwrap(), &options).unwrap();
    let outcome = hotlist_matcher::kafka::hotlist::upload(&config, LIST, &entries, "command line", false)
        .await
        .unwrap();
    let hotlist_matcher::kafka::hotlist::UploadOutcome::Done(report) = outcome else {
        panic!("the command line owns every list");
    };
    assert_eq!((report.added, report.removed), (SIZE, 2));
    assert_eq!(loaded(&config).await, new.ids);
    assert!(common::wait_for(Duration::from_secs(20), || held(&follower) == new.ids).await);
    shutdown.cancel();
}
