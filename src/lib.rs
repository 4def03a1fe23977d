//! hotlist-matcher: matches license-plate reads from ALPR cameras against
//! agency hotlists in real time and alerts dispatch.
//!
//! Reads arrive on the Kafka topic `alpr.reads`. The [`kafka::source`]
//! consumes them in a consumer group and hands each record to the pure
//! [`pipeline`]: [`read`] parses and validates it, [`normalize`] brings the
//! plate to canonical form, a [`hotlist::Matcher`] finds the entries it hits,
//! and [`alert`] turns each hit into an alert with a deterministic id,
//! deciding the frames of one vehicle's pass together ([`alert::pass`]). Alerts
//! go to `alpr.alerts`; records that are not usable reads go, unchanged and
//! with the reason, to `alpr.reads.dlq`. Offsets are stored only after those
//! writes are acknowledged, so nothing is lost if the process dies.
//!
//! The City of Coachella's ALPR policy (SB 34) is part of the design: no
//! plate text in logs or metric labels ([`metrics`]), ALPR topics that delete
//! after 30 days ([`kafka::topics`]), roles, grants, purposes and a
//! hash-chained audit record ([`access`]), enforced on every route of the
//! HTTPS API ([`api`]), and, in later modules, encryption at rest and key
//! destruction.
//!
//! Modules, from the pure core outwards: [`text`] (identifier and name
//! rules, escaping for print), [`progress`], [`read`], [`normalize`],
//! [`hotlist`], [`alert`], [`access`] (access rules and the audit chain,
//! pure), [`config`], [`metrics`], [`pipeline`], [`kafka`], [`api`] (HTTPS
//! only: server, route table, handlers by resource); [`sample`], [`demo`],
//! [`accuracy`] and [`bench`] make synthetic data, run the end-to-end demo
//! and measure matching and hotlist changes; [`logging`] shapes the log
//! lines (JSON off a terminal); [`progress`] shows long work on a terminal
//! or logs it; [`admin`] serves the metrics and probes.

pub mod access;
pub mod accuracy;
pub mod admin;
pub mod alert;
pub mod api;
pub mod app;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod hotlist;
pub mod kafka;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod normalize;
pub mod pipeline;
pub mod progress;
pub mod read;
pub mod retention;
pub mod sample;
pub mod text;

#[cfg(test)]
mod redaction_tests;

/// Now, as the service sees it. Everything time-dependent takes one, so
/// tests can move time instead of waiting for it.
pub type Clock = std::sync::Arc<dyn Fn() -> std::time::SystemTime + Send + Sync>;

/// The real clock.
pub fn system_clock() -> Clock {
    std::sync::Arc::new(std::time::SystemTime::now)
}
