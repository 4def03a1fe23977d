//! The dispatch board end to end in a real browser (Debian's Chromium via
//! chromedriver, started by `scripts/test.sh`): a dispatcher logs in, a
//! planted read's alert appears with the difference highlighted and the
//! verify banner, the dispatcher rejects it as a misread, the decision is on
//! Kafka and in the audit log, a second browser on a second instance shows
//! the same, and a covert list's hit reaches only its own organisation.
//! The board's screenshot is saved to `target/artifacts/board.png`.

use std::time::Duration;

use hotlist_matcher::access::auth::{hash_password, Role};
use hotlist_matcher::access::principals::User;
use hotlist_matcher::app::Running;
use hotlist_matcher::hotlist::plan::Uploader;
use hotlist_matcher::hotlist::{load_csv, CsvLimits};
use hotlist_matcher::kafka::hotlist as kafka_hotlist;
use hotlist_matcher::sample;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common;
use crate::webdriver::{Session, WebDriver};

const PASSWORD: &str = "correct horse battery staple";
const WAIT: Duration = Duration::from_secs(30);

fn driver_url() -> String {
    std::env::var("HOTLIST_TEST_WEBDRIVER").unwrap_or_else(|_| "http://127.0.0.1:9515".into())
}

async fn seed_users(config: &hotlist_matcher::config::Config) {
    let hash = hash_password(PASSWORD).unwrap();
    let (mut keys, mut records) = (Vec::new(), Vec::new());
    for (name, organisation) in [("dana", "Riverside County Sheriff"), ("nora", "RSO Narcotics")] {
        let (key, value) = User::new(name, organisation, Role::Dispatcher, hash.clone())
            .unwrap()
            .record();
        keys.push(key);
        records.push(value);
    }
    let writer = hotlist_matcher::kafka::principals::Writer::new(config).unwrap();
    for (key, record) in keys.iter().zip(&records) {
        writer.write(key, Some(record)).await.unwrap();
    }
}

/// Opens the board of the instance at `port` and logs `user` in.
async fn log_in(browser: &Session, port: u16, user: &str) {
    browser.goto(&format!("https://127.0.0.1:{port}/board")).await.unwrap();
    let username = browser.wait_for("#login input[name=username]", WAIT).await.unwrap();
    // Present is not yet typeable while the page is still laying out (seen
    // under load): retry what the driver calls "not interactable" a while.
    let deadline = std::time::Instant::now() + WAIT;
    while let Err(e) = browser.send_keys(&username, user).await {
        assert!(
            e.to_string().contains("not interactable") && std::time::Instant::now() < deadline,
            "{e}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let password = browser.find("#login input[name=password]").await.unwrap();
    browser.send_keys(&password, PASSWORD).await.unwrap();
    let submit = browser.find("#login button[type=submit]").await.unwrap();
    browser.click(&submit).await.unwrap();
    browser
        .wait_until(
            &format!("document.getElementById('whoami').textContent.includes('{user}')"),
            WAIT,
        )
        .await
        .unwrap();
}

async fn cards(browser: &Session) -> usize {
    browser.find_all("#board article.incident").await.unwrap().len()
}

async fn state_of(browser: &Session, id: &Uuid) -> String {
    let card = browser
        .wait_for(&format!("article.incident[data-id='{id}']"), WAIT)
        .await
        .unwrap();
    browser
        .attribute(&card, "data-state")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn wait_state(browser: &Session, id: &Uuid, state: &str) {
    let js =
        format!("(document.querySelector(\"article.incident[data-id='{id}']\") || {{}}).dataset?.state === '{state}'");
    browser
        .wait_until(&js, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{id} never {state}: {e}"));
}

async fn click_in(browser: &Session, id: &Uuid, selector: &str) {
    let css = format!("article.incident[data-id='{id}'] {selector}");
    let element = browser.wait_for(&css, WAIT).await.unwrap();
    browser.click(&element).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_rejects_a_misread_on_the_board_and_every_instance_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("board");
    let hotlist = dir.path().join("h.csv");
    std::fs::write(
        &hotlist,
        "entry_id,list_id,plate,region,category,priority,description,nic,vehicle_year,vehicle_make,vehicle_model,vehicle_colour\n\
         e1,rso-stolen,8ABC123,CA,stolen_vehicle,1,Stolen 2019 Honda Civic,V123456789,2019,HOND,CIV,BLK\n\
         e2,rso-stolen,8PRI000,CA,felony_vehicle,0,Armed robbery suspect,V987654321,2021,TOYT,CAM,WHI\n",
    )
    .unwrap();
    let config = common::config(&prefix, &hotlist, 10);
    common::create_topics(&config).await;
    seed_users(&config).await;
    let covert = load_csv(
        "entry_id,list_id,plate,region,category\nn1,rso-narc,7NRC789,CA,felony_vehicle\n".as_bytes(),
        CsvLimits::default(),
    )
    .unwrap();
    let uploader = Uploader {
        organisation: "RSO Narcotics",
        enforce_owner: true,
        covert: Some(true),
        registered_owner: None,
    };
    kafka_hotlist::upload_as(&config, "rso-narc", &covert, uploader)
        .await
        .unwrap();

    let shutdown = CancellationToken::new();
    let a: Running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .unwrap();
    let b: Running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .unwrap();
    let misread = Uuid::new_v4();
    let read = |id, plate: &str| {
        let mut json: serde_json::Value = serde_json::from_slice(&sample::read_json(
            id,
            "cam-7",
            &hotlist_matcher::sample::yesterday_at("03:01:02"),
            plate,
            Some("CA"),
        ))
        .unwrap();
        json["image_ref"] = "https://images.example.org/cam-7/0301.jpg".into();
        serde_json::to_vec(&json).unwrap()
    };
    common::produce(
        &config,
        &config.topics.reads,
        &[read(misread, "8ABC1Z3"), read(Uuid::new_v4(), "7NRC789")],
    )
    .await;
    let incident = hotlist_matcher::alert::alert_id(&misread, "rso-stolen", "e1");

    let dana = WebDriver::start(&driver_url())
        .await
        .expect("chromedriver (scripts/browser.sh driver-start 9515)");
    log_in(&dana, a.api_address.port(), "dana").await;
    assert_eq!(state_of(&dana, &incident).await, "new");
    // An unacknowledged priority 1 alert alarms at login, not only when it arrives.
    dana.wait_until(
        "!document.getElementById('new-alert-banner').hidden && \
         document.getElementById('new-alert-text').textContent.includes('NEW PRIORITY 1 ALERT')",
        WAIT,
    )
    .await
    .unwrap();
    let card = format!("article.incident[data-id='{incident}']");
    let marked = dana.find(&format!("{card} .plate-read mark.diff")).await.unwrap();
    assert_eq!(dana.text(&marked).await.unwrap(), "Z");
    let on_list = dana.find(&format!("{card} .plate-entry mark.diff")).await.unwrap();
    assert_eq!(dana.text(&on_list).await.unwrap(), "2");
    let text = dana.text(&dana.find(&card).await.unwrap()).await.unwrap();
    for shown in [
        "OCR look-alike: 2 read as Z",
        "V123456789",
        "Stolen 2019 Honda Civic",
        "cam-7",
    ] {
        assert!(text.contains(shown), "{shown:?} not on the card: {text}");
    }
    let banner = dana.text(&dana.find("#verify-banner").await.unwrap()).await.unwrap();
    assert!(banner.contains("Verify before acting"), "{banner}");
    // The covert list's hit (on the board of RSO Narcotics, below) never shows here.
    let narcotics_sees_it = common::wait_for(WAIT, || a.board.open("RSO Narcotics").len() == 2).await;
    assert!(narcotics_sees_it);
    assert_eq!(
        cards(&dana).await,
        1,
        "a covert hit is not on another organisation's board"
    );
    std::fs::create_dir_all("target/artifacts").unwrap();
    dana.screenshot_png("target/artifacts/board.png").await.unwrap();

    click_in(&dana, &incident, "[data-action=acknowledge]").await;
    wait_state(&dana, &incident, "acknowledged").await;
    click_in(&dana, &incident, "[data-action=reject]").await;
    let chosen = dana
        .execute(
            "const s = document.querySelector(arguments[0]); s.value = 'misread'; s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;",
            vec![format!("{card} select[name=reason]").into()],
        )
        .await
        .unwrap();
    assert_eq!(chosen, "misread");
    click_in(&dana, &incident, "[data-action=reject-submit]").await;
    wait_state(&dana, &incident, "rejected").await;

    // On Kafka (folded by the other instance) and in the audit log.
    let on_b = common::wait_for(WAIT, || {
        b.board
            .view(&incident, Some("Riverside County Sheriff"))
            .is_some_and(|v| v.reason == Some("misread") && v.decided_by.as_deref() == Some("dana"))
    })
    .await;
    assert!(on_b, "the other instance read the rejection from the alert-state topic");
    let audited = common::sealed_audit(&config, |records| {
        records.iter().any(|r| r.event.action == "alert_reject")
    })
    .await;
    let reject = audited
        .iter()
        .find(|r| r.event.action == "alert_reject")
        .expect("audited");
    assert!(reject.event.query_terms.is_empty(), "terms are sealed at rest");
    let reject = hotlist_matcher::kafka::audit::opened(&config.master_key.audit_key(), reject.clone());
    assert_eq!(reject.event.username, "dana");
    assert!(reject.event.query_terms.contains(&"reason=misread".to_string()));

    // A second browser on the second instance shows the same state.
    let second = WebDriver::start(&driver_url()).await.unwrap();
    log_in(&second, b.api_address.port(), "dana").await;
    assert_eq!(state_of(&second, &incident).await, "rejected");
    assert_eq!(cards(&second).await, 1);
    second.quit().await.unwrap();
    // The covert list's own organisation sees both.
    let nora = WebDriver::start(&driver_url()).await.unwrap();
    log_in(&nora, b.api_address.port(), "nora").await;
    nora.wait_until(
        "document.querySelectorAll('#board article.incident').length === 2",
        WAIT,
    )
    .await
    .unwrap();
    nora.quit().await.unwrap();
    // A new priority 0 alert cannot be missed: a banner stays until dealt with.
    common::produce(&config, &config.topics.reads, &[read(Uuid::new_v4(), "8PRI000")]).await;
    dana.wait_until(
        "!document.getElementById('new-alert-banner').hidden && \
         document.getElementById('new-alert-text').textContent.includes('NEW PRIORITY 0 ALERT')",
        WAIT,
    )
    .await
    .unwrap();
    let first = dana.find("#board article.incident").await.unwrap();
    let text = dana.text(&first).await.unwrap();
    assert!(text.contains("8PRI000"), "priority 0 comes first on the board: {text}");
    dana.quit().await.unwrap();
    shutdown.cancel();
    a.wait().await.unwrap();
    b.wait().await.unwrap();
}
