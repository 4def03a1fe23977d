//! Access rules: who may do what with ALPR data, and the record of what they
//! did (policy sections 3, 5, 6, 10; Civil Code 1798.90.52).
//!
//! The City's policy allows ALPR data to the City Manager and sworn RSO
//! officers only, by username and password; the camera contractor only with
//! written permission; data is shared only with registered California public
//! agencies; and every access is recorded with its purpose. This module holds
//! those rules as data and pure functions, so they read and test on their own:
//! [`auth`] (roles, the deny-by-default permission table, contractor grants,
//! argon2id passwords), [`lockout`] (growing delays for failed logins),
//! [`principals`] (users, grants, sharing agencies and the register of
//! hotlists, folded from their records), [`sessions`] (logins every
//! instance knows), [`prerequisites`] (sworn status, training and account
//! expiry, checked before a search) and [`audit`] (purposes of use,
//! reasons for changes, the hash-chained audit record and its verification).
//!
//! It sits below both [`crate::kafka`], which stores principals and audit
//! records, and [`crate::api`], which enforces the rules on every route. It
//! must never import from either, and never perform I/O (no network, no
//! files, no clock of its own: the time is always passed in), so that every
//! rule can be checked without a broker or a server. Each submodule has its
//! own error enum ([`auth::AuthError`], [`principals::PrincipalError`],
//! [`prerequisites::PrerequisiteError`], [`audit::AuditError`]).

pub mod audit;
pub mod auth;
pub mod keys;
pub mod lockout;
pub mod prerequisites;
pub mod principals;
pub mod sessions;
