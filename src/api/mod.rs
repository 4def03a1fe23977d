//! The HTTPS API: officers search and export with a stated purpose, the
//! custodian manages users, grants, sharing and audits, agencies upload
//! their hotlists, operations read health and metrics.
//!
//! HTTP only: the rules it enforces are [`crate::access`]'s, and what it
//! reads and writes beyond this process sits behind the traits of
//! [`stores`] (Kafka in service, in memory in unit tests). [`routes`] is
//! the one table of routes and the access each requires; [`guard`] is the
//! middleware that applies it (sessions, CSRF, deny by default, audit of
//! refusals); the handlers live by resource: [`session`] (login, logout),
//! [`users`] (users and grants), [`search`] (searches, exports, agencies,
//! sharing), [`audit`] (verify, report), [`hotlists`] (uploads),
//! [`hotlist_admin`] (listing and removing lists) and
//! [`lists`] (the register of hotlists) and [`health`] (health, metrics).
//! [`limits`] bounds password checks and uploads, [`state`] holds what
//! they share, and
//! [`server`] builds the router, serves it over TLS and starts it all.
//! It must never hold a policy rule of its own, nor send internals in a
//! response.

pub mod audit;
pub mod board;
pub mod guard;
pub mod health;
pub mod hotlist_admin;
pub mod hotlists;
pub mod limits;
pub mod lists;
pub mod openapi;
pub mod routes;
pub mod search;
pub mod server;
pub mod session;
pub mod state;
pub mod stores;
pub mod users;

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod pentest_auth_tests;
#[cfg(test)]
mod pentest_data_tests;
#[cfg(test)]
mod prerequisites_tests;
