//! Integration tests against a real Kafka-protocol broker.
//!
//! `scripts/test.sh` starts one (Apache Kafka 4.4, one node) on 127.0.0.1:9092; set
//! `HOTLIST_TEST_BOOTSTRAP` to run against any other cluster. Every test uses
//! its own topics and consumer groups, so tests run in parallel and reruns
//! never see each other's records.

mod api;
mod api_harness;
mod board;
mod common;
mod compaction;
mod concurrent_uploads;
mod crash;
mod demo;
mod dispatch;
mod errors;
mod failover;
mod feeds;
mod group;
mod historical;
mod hotlist_cli;
mod logs;
mod metrics;
mod passes;
mod pentest;
mod pipeline;
mod prometheus;
mod receiver;
mod replicas;
mod retention;
mod sealer;
mod secure;
mod topics;
mod users;
mod webdriver;
mod webhooks;
