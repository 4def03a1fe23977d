//! Webhooks to a local HTTPS receiver through the real broker: signed as
//! documented, retried until answered once, dead-lettered past the budget,
//! and nothing lost when the service is killed in the middle of retries.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hotlist_matcher::config::Config;
use hotlist_matcher::dispatch::signature::verify;
use hotlist_matcher::sample;
use rdkafka::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common;
use crate::receiver::{self, Receiver};

const SECRET: &str = "whsec-integration-0123456789";
const SECRET_VAR: &str = "HOTLIST_TEST_WEBHOOK_SECRET";

/// The test config with one endpoint, fast retries and `attempts` of them.
fn config_text(prefix: &str, hotlist: &Path, receiver: &Receiver, attempts: u32) -> String {
    let mut text = common::config_text(prefix, hotlist, 50)
        .replace(
            "webhook_max_attempts = 8",
            &format!("webhook_max_attempts = {attempts}"),
        )
        .replace("webhook_backoff_ms = 1000", "webhook_backoff_ms = 50")
        .replace("webhook_backoff_max_ms = 60000", "webhook_backoff_max_ms = 200");
    text.push_str(&format!(
        "\n[[dispatch.webhooks]]\nname = \"cad\"\nurl = \"{}\"\nsecret_env = \"{SECRET_VAR}\"\nca_file = {:?}\n",
        receiver.url,
        receiver.ca_file.display().to_string()
    ));
    text
}

fn config(text: &str) -> Config {
    Config::from_toml(text, [(SECRET_VAR.to_owned(), SECRET.to_owned())]).unwrap()
}

/// A hotlist of `n` entries `e<i>` with plates `8WH<i>00` (i < 10), and one read of each.
fn hotlist_and_reads(path: &Path, n: usize) -> Vec<Vec<u8>> {
    let mut text = String::from("entry_id,list_id,plate,region,category,priority,description\n");
    let mut reads = Vec::new();
    for i in 0..n {
        text.push_str(&format!("e{i},rso,8WH{i}00,CA,stolen_vehicle,1,black Civic\n"));
        reads.push(sample::read_json(
            Uuid::new_v4(),
            "cam-1",
            &common::at(),
            &format!("8WH{i}00"),
            Some("CA"),
        ));
    }
    std::fs::write(path, text).unwrap();
    reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_three_times_gets_each_event_once_signed_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = receiver::start(dir.path()).await;
    receiver.log.lock().unwrap().fail_next = 3;
    let prefix = common::unique("webhook-retry");
    let hotlist = dir.path().join("h.csv");
    let config = config(&config_text(&prefix, &hotlist, &receiver, 8));
    common::create_topics(&config).await;
    let reads = hotlist_and_reads(&hotlist, 3);
    let shutdown = CancellationToken::new();
    let running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .unwrap();
    common::produce(&config, &config.topics.reads, &reads).await;
    let three = common::wait_for(Duration::from_secs(60), || {
        receiver.log.lock().unwrap().delivered().len() == 3
    })
    .await;
    assert!(
        three,
        "three alerts delivered: {:?}",
        receiver.log.lock().unwrap().requests.len()
    );

    // A decision is an event too.
    let incident = running.board.open("Test Org")[0].id;
    common::acknowledge(&config, incident, "dana").await;
    let four = common::wait_for(Duration::from_secs(30), || {
        receiver.log.lock().unwrap().delivered().len() == 4
    })
    .await;
    assert!(four, "the decision was delivered");
    tokio::time::sleep(Duration::from_secs(1)).await; // room for a duplicate to show

    // The admin port answers probes and scrapes without a login (issue 14).
    let admin = |path: &str| {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                &format!("http://{}{path}", running.admin_address),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(admin("/healthz"), "ok\n\n200");
    assert_eq!(admin("/readyz"), "ready\n\n200");
    let scraped = admin("/metrics");
    for series in [
        "hotlist_reads_total 3",
        "hotlist_alerts_total 3",
        "hotlist_webhook_delivered_total{endpoint=\"cad\"} 4",
    ] {
        assert!(scraped.lines().any(|l| l == series), "{series} in {scraped}");
    }
    assert!(!scraped.contains("8WH0"), "no plate on the admin port");
    shutdown.cancel();
    running.wait().await.unwrap();

    let log = receiver.log.lock().unwrap();
    assert_eq!(log.failed(), 3);
    assert!(
        log.delivered().values().all(|&n| n == 1),
        "each event answered once: {:?}",
        log.delivered()
    );
    let now = chrono::Utc::now().timestamp();
    let mut kinds = Vec::new();
    for request in &log.requests {
        assert_eq!(
            verify(SECRET.as_bytes(), &request.signature, &request.body, now),
            Ok(())
        );
        assert!(verify(b"not-the-secret-0123456789", &request.signature, &request.body, now).is_err());
        let event: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(event["event_id"], request.event_id);
        assert_eq!(event["type"], request.event_type);
        if request.answered == 200 {
            kinds.push(request.event_type.clone());
        }
    }
    kinds.sort();
    assert_eq!(
        kinds,
        ["alert.opened", "alert.opened", "alert.opened", "alert.state_changed"]
    );
    let state = log
        .requests
        .iter()
        .find(|r| r.event_type == "alert.state_changed")
        .unwrap();
    let event: serde_json::Value = serde_json::from_slice(&state.body).unwrap();
    assert_eq!(event["transition"]["by"], "dana");
    assert_eq!(event["incident"]["state"], "acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_past_the_retry_budget_puts_the_delivery_on_the_dead_letter_topic() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = receiver::start(dir.path()).await;
    receiver.log.lock().unwrap().down = true;
    let prefix = common::unique("webhook-dlq");
    let hotlist = dir.path().join("h.csv");
    let config = config(&config_text(&prefix, &hotlist, &receiver, 3));
    common::create_topics(&config).await;
    let reads = hotlist_and_reads(&hotlist, 2);
    let shutdown = CancellationToken::new();
    let running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .unwrap();
    common::produce(&config, &config.topics.reads, &reads).await;
    let reader = common::reader(&config, &config.topics.webhook_dlq);
    let keyring = common::keyring(&config).await;
    let mut dead = Vec::new();
    let both = common::drain_until(&reader, &mut dead, Duration::from_secs(60), |m| m.len() >= 2).await;
    assert!(both, "both deliveries dead-lettered");
    let dead_letters = running.metrics.webhook_dead_letters.with_label_values(&["cad"]).get();
    shutdown.cancel();
    running.wait().await.unwrap();
    assert_eq!(dead_letters, 2);
    assert_eq!(receiver.log.lock().unwrap().failed(), 6, "three attempts each");
    for message in &dead {
        let headers: std::collections::HashMap<String, String> = {
            use rdkafka::message::Headers;
            let h = message.headers().unwrap();
            h.iter()
                .map(|h| (h.key.to_owned(), String::from_utf8_lossy(h.value.unwrap()).into_owned()))
                .collect()
        };
        assert_eq!(headers["hm.endpoint"], "cad");
        assert_eq!(headers["hm.attempts"], "3");
        assert_eq!(headers["hm.error"], "answered 503 Service Unavailable");
        let event: serde_json::Value = serde_json::from_slice(&common::opened(&keyring, message)).unwrap();
        assert_eq!(event["type"], "alert.opened");
        assert_eq!(message.key(), Some(event["event_id"].as_str().unwrap().as_bytes()));
        let captured =
            chrono::DateTime::parse_from_rfc3339(event["incident"]["captured_at"].as_str().unwrap()).unwrap();
        assert_eq!(
            message.timestamp(),
            rdkafka::Timestamp::CreateTime(captured.timestamp_millis()),
            "the dead letter is deleted 30 days after capture (issue 13)"
        );
    }
}

fn serve(config_path: &Path, log: &Path) -> std::process::Child {
    common::serve_process(config_path, log, &[(SECRET_VAR, SECRET)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_killed_in_the_middle_of_retries_delivers_every_alert_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = receiver::start(dir.path()).await;
    receiver.log.lock().unwrap().down = true;
    let prefix = common::unique("webhook-kill");
    let hotlist = dir.path().join("h.csv");
    let text = config_text(&prefix, &hotlist, &receiver, 100);
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, &text).unwrap();
    let config = config(&text);
    common::create_topics(&config).await;
    let reads = hotlist_and_reads(&hotlist, 5);
    common::produce(&config, &config.topics.reads, &reads).await;

    let mut first = serve(&config_path, &dir.path().join("first.log"));
    let retrying = common::wait_for(Duration::from_secs(60), || receiver.log.lock().unwrap().failed() >= 3).await;
    first.kill().expect("SIGKILL sent");
    first.wait().unwrap();
    assert!(retrying, "the first process was retrying when killed");
    assert!(receiver.log.lock().unwrap().delivered().is_empty());

    receiver.log.lock().unwrap().down = false;
    let mut second = serve(&config_path, &dir.path().join("second.log"));
    let all = common::wait_for(Duration::from_secs(90), || {
        receiver.log.lock().unwrap().delivered().len() == 5
    })
    .await;
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    second.wait().unwrap();
    let log = receiver.log.lock().unwrap();
    assert!(all, "every alert delivered after the restart: {:?}", log.delivered());
    assert!(log.delivered().values().all(|&n| n == 1), "{:?}", log.delivered());
}
