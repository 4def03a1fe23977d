//! Who may do what, and the record of everything they did (policy sections
//! 3, 5, 6, 10; Civil Code 1798.90.52).
//!
//! The City's policy allows ALPR data to the City Manager and sworn RSO
//! officers only, by username and password; the camera contractor only with
//! written permission; and requires a record of every access. This module
//! holds those rules as pure, tested code: [`auth`] (roles, the deny-by-default
//! permission table, contractor grants, argon2id passwords, lockout) and
//! [`audit`] (purpose of use, the hash-chained audit record and its
//! verification). The HTTPS server that enforces them on every route comes
//! next (issue 4); nothing here performs I/O.

pub mod audit;
pub mod auth;
pub mod principals;
pub mod routes;
pub mod server;
