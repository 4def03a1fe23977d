//! Dispatch: getting every hit to RSO dispatch, verified before anyone acts.
//!
//! [`board`] folds the alerts and alert-state topics into the incidents and
//! decisions that every instance shows alike; the API serves them as a live
//! page ([`crate::api`]'s board routes). [`webhook`] pushes each new alert,
//! sighting and decision to CAD and other systems as signed HTTPS requests,
//! from a consumer group of its own that stores offsets only once a
//! delivery is done. Nothing here decides what a hit or a decision means:
//! that is the pure [`crate::alert`] lifecycle and incidents.

pub mod board;
pub mod signature;
pub mod webhook;
