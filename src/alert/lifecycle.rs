//! The alert lifecycle: what a dispatcher may do with an alert, and the
//! records that say they did.
//!
//! Sheriff's directives require that a hit is verified before anyone acts:
//! an alert is `new` until a dispatcher acknowledges it, then confirmed
//! (the image and NCIC/CLETS agree) or rejected with a reason, then closed.
//! Every step is a [`Transition`] record on the alert-state topic, keyed by
//! the alert id, so every instance reads the same steps in the same order.
//! A transition names the state it expects to leave: when two dispatchers
//! act on the same alert at once, the first record in the topic's order
//! wins and the other no longer starts from the state it names, so it is
//! refused the same way on every instance and its sender is told who won.
//! This module is pure: it decides, it never reads or writes a topic.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The newest transition schema this build writes.
pub const TRANSITION_SCHEMA: u32 = 1;
/// Longest free text of a rejection.
pub const MAX_REASON_TEXT: usize = 500;
/// Longest username a transition carries.
const MAX_NAME: usize = 256;

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    #[default]
    New,
    Acknowledged,
    Confirmed,
    Rejected,
    Closed,
}

impl AlertState {
    pub fn name(self) -> &'static str {
        match self {
            AlertState::New => "new",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Confirmed => "confirmed",
            AlertState::Rejected => "rejected",
            AlertState::Closed => "closed",
        }
    }
}

/// Why a dispatcher rejected an alert (a fixed list, so they can be counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The camera read the plate wrong: the field measure of accuracy.
    Misread,
    /// Same plate, another state's vehicle.
    WrongState,
    /// The vehicle was recovered or the entry is no longer active in NCIC.
    NoLongerActive,
    /// Another alert covers the same vehicle.
    Duplicate,
    /// Anything else, said in the text.
    Other,
}

impl RejectReason {
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::Misread => "misread",
            RejectReason::WrongState => "wrong_state",
            RejectReason::NoLongerActive => "no_longer_active",
            RejectReason::Duplicate => "duplicate",
            RejectReason::Other => "other",
        }
    }
}

/// What a dispatcher does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Acknowledge,
    Confirm,
    Reject {
        reason: RejectReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    Close,
}

impl Action {
    /// The state the action leads to.
    pub fn target(&self) -> AlertState {
        match self {
            Action::Acknowledge => AlertState::Acknowledged,
            Action::Confirm => AlertState::Confirmed,
            Action::Reject { .. } => AlertState::Rejected,
            Action::Close => AlertState::Closed,
        }
    }

    /// The name used in audit records and webhooks (`alert_<name>`).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::Confirm => "confirm",
            Action::Reject { .. } => "reject",
            Action::Close => "close",
        }
    }

    /// Whether the action may leave `state`. Acknowledging a closed alert
    /// reopens it: the board offers that only when the vehicle was seen
    /// again after the alert was closed.
    pub fn allowed_from(&self, state: AlertState) -> bool {
        matches!(
            (self, state),
            (Action::Acknowledge, AlertState::New | AlertState::Closed)
                | (Action::Confirm | Action::Reject { .. }, AlertState::Acknowledged)
                | (Action::Close, AlertState::Confirmed | AlertState::Rejected)
        )
    }
}

/// One step of an alert's lifecycle, as written to the alert-state topic
/// (JSON, keyed by `alert_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub schema: u32,
    /// Identifies this request, so its sender can learn whether it won.
    pub transition_id: Uuid,
    /// The alert (the first alert of an incident) the step applies to.
    pub alert_id: Uuid,
    /// The state the dispatcher saw when acting.
    pub from: AlertState,
    #[serde(flatten)]
    pub action: Action,
    /// Who acted, and for which organisation.
    pub by: String,
    pub organisation: String,
    pub at: DateTime<Utc>,
}

/// Why a transition record or request is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("a rejection as other needs a text saying why")]
    MissingText,
    #[error("the reason text is longer than {MAX_REASON_TEXT} characters")]
    TextTooLong,
    #[error("the reason text may not hold control or text-direction characters")]
    ControlCharacters,
    #[error("cannot {action} an alert that is {state}")]
    NotAllowed { action: &'static str, state: &'static str },
    #[error("not a transition record: {0}")]
    Malformed(String),
}

/// Control characters (a terminal's escape, a NUL) and the invisible
/// characters that reverse how the rest of a line reads.
fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

impl Transition {
    /// Checks what a request or a record says on its own (not the state).
    pub fn validate(&self) -> Result<(), LifecycleError> {
        if let Action::Reject { reason, text } = &self.action {
            let text = text.as_deref().map(str::trim).unwrap_or("");
            if *reason == RejectReason::Other && text.is_empty() {
                return Err(LifecycleError::MissingText);
            }
            if text.chars().count() > MAX_REASON_TEXT {
                return Err(LifecycleError::TextTooLong);
            }
        }
        if let Action::Reject { text: Some(text), .. } = &self.action {
            if text.chars().any(unsafe_char) {
                return Err(LifecycleError::ControlCharacters);
            }
        }
        if self.by.is_empty() || self.by.len() > MAX_NAME || self.organisation.len() > MAX_NAME {
            return Err(LifecycleError::Malformed("bad user name or organisation".into()));
        }
        if !self.action.allowed_from(self.from) {
            return Err(LifecycleError::NotAllowed {
                action: self.action.name(),
                state: self.from.name(),
            });
        }
        Ok(())
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a transition always serializes")
    }

    /// Parses and validates a record of the alert-state topic.
    pub fn decode(bytes: &[u8]) -> Result<Transition, LifecycleError> {
        let t: Transition = serde_json::from_slice(bytes).map_err(|e| LifecycleError::Malformed(e.to_string()))?;
        if t.schema == 0 || t.schema > TRANSITION_SCHEMA {
            return Err(LifecycleError::Malformed(format!("unknown schema {}", t.schema)));
        }
        t.validate()?;
        Ok(t)
    }
}

/// A step that took effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub state: AlertState,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The lifecycle of one alert, folded from its transitions in topic order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lifecycle {
    pub state: AlertState,
    pub history: Vec<Step>,
    /// Set once rejected.
    pub rejection: Option<(RejectReason, Option<String>)>,
}

/// What became of a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    Applied,
    /// Another step came first: the alert is now `state`, last moved by `by`.
    Conflict {
        state: AlertState,
        by: Option<String>,
    },
}

impl Lifecycle {
    /// Applies `t` if it starts from the current state; otherwise it lost
    /// to the step that moved the alert first.
    pub fn apply(&mut self, t: &Transition) -> Decision {
        if t.from != self.state || !t.action.allowed_from(self.state) {
            return Decision::Conflict {
                state: self.state,
                by: self.history.last().map(|s| s.by.clone()),
            };
        }
        self.state = t.action.target();
        self.rejection = match &t.action {
            Action::Reject { reason, text } => Some((*reason, text.clone())),
            Action::Acknowledge => None, // a reopened alert is decided afresh
            _ => self.rejection.clone(),
        };
        self.history.push(Step {
            state: self.state,
            by: t.by.clone(),
            at: t.at,
        });
        Decision::Applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(from: AlertState, action: Action, by: &str) -> Transition {
        Transition {
            schema: TRANSITION_SCHEMA,
            transition_id: Uuid::new_v4(),
            alert_id: Uuid::nil(),
            from,
            action,
            by: by.into(),
            organisation: "RSO".into(),
            at: "2026-11-28T03:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_verify_then_act_path_moves_through_every_state() {
        let mut life = Lifecycle::default();
        let misread = Action::Reject {
            reason: RejectReason::Misread,
            text: None,
        };
        assert_eq!(
            life.apply(&t(AlertState::New, Action::Acknowledge, "ann")),
            Decision::Applied
        );
        assert_eq!(
            life.apply(&t(AlertState::Acknowledged, misread, "ann")),
            Decision::Applied
        );
        assert_eq!(
            life.apply(&t(AlertState::Rejected, Action::Close, "bob")),
            Decision::Applied
        );
        assert_eq!(life.state, AlertState::Closed);
        let states: Vec<_> = life.history.iter().map(|s| (s.state, s.by.as_str())).collect();
        assert_eq!(
            states,
            [
                (AlertState::Acknowledged, "ann"),
                (AlertState::Rejected, "ann"),
                (AlertState::Closed, "bob")
            ]
        );
        assert_eq!(life.rejection, Some((RejectReason::Misread, None)));
        // Seen again after closing: acknowledging reopens it, decided afresh.
        assert_eq!(
            life.apply(&t(AlertState::Closed, Action::Acknowledge, "cy")),
            Decision::Applied
        );
        assert_eq!((life.state, life.rejection.clone()), (AlertState::Acknowledged, None));
    }

    #[test]
    fn the_first_of_two_conflicting_decisions_wins_and_the_second_learns_who() {
        let mut life = Lifecycle::default();
        life.apply(&t(AlertState::New, Action::Acknowledge, "ann"));
        let confirm = t(AlertState::Acknowledged, Action::Confirm, "ann");
        let reject = t(
            AlertState::Acknowledged,
            Action::Reject {
                reason: RejectReason::Duplicate,
                text: None,
            },
            "bob",
        );
        assert_eq!(life.apply(&confirm), Decision::Applied);
        assert_eq!(
            life.apply(&reject),
            Decision::Conflict {
                state: AlertState::Confirmed,
                by: Some("ann".into())
            }
        );
        assert_eq!(life.state, AlertState::Confirmed);
        // The same order gives the same outcome on every instance.
        let mut other = Lifecycle::default();
        other.apply(&t(AlertState::New, Action::Acknowledge, "ann"));
        other.apply(&confirm);
        assert!(matches!(other.apply(&reject), Decision::Conflict { .. }));
        assert_eq!(other, life);
    }

    #[test]
    fn a_step_out_of_order_is_refused_before_it_is_written() {
        let skip = t(AlertState::New, Action::Confirm, "ann");
        assert_eq!(
            skip.validate(),
            Err(LifecycleError::NotAllowed {
                action: "confirm",
                state: "new"
            })
        );
        let no_text = t(
            AlertState::Acknowledged,
            Action::Reject {
                reason: RejectReason::Other,
                text: Some("  ".into()),
            },
            "ann",
        );
        assert_eq!(no_text.validate(), Err(LifecycleError::MissingText));
        let long = t(
            AlertState::Acknowledged,
            Action::Reject {
                reason: RejectReason::Other,
                text: Some("x".repeat(MAX_REASON_TEXT + 1)),
            },
            "ann",
        );
        assert_eq!(long.validate(), Err(LifecycleError::TextTooLong));
        for hostile in [
            "bell\u{7}",
            "esc\u{1b}[31m",
            "nul\u{0}",
            "line\r\nbreak",
            "\u{202e}evil",
        ] {
            let text = t(
                AlertState::Acknowledged,
                Action::Reject {
                    reason: RejectReason::Other,
                    text: Some(hostile.into()),
                },
                "ann",
            );
            assert_eq!(text.validate(), Err(LifecycleError::ControlCharacters), "{hostile:?}");
        }
        // A forged record that skips verification is refused when read.
        assert_eq!(
            Transition::decode(&skip.encode()),
            Err(LifecycleError::NotAllowed {
                action: "confirm",
                state: "new"
            })
        );
    }

    #[test]
    fn the_wire_form_is_flat_and_versioned() {
        let reject = t(
            AlertState::Acknowledged,
            Action::Reject {
                reason: RejectReason::WrongState,
                text: None,
            },
            "ann",
        );
        let json: serde_json::Value = serde_json::from_slice(&reject.encode()).unwrap();
        assert_eq!(json["action"], "reject");
        assert_eq!(json["reason"], "wrong_state");
        assert_eq!(json["from"], "acknowledged");
        assert_eq!(json["schema"], 1);
        assert_eq!(Transition::decode(&reject.encode()).unwrap(), reject);
        for bad in [&b"{}"[..], b"null", b"\xff", br#"{"schema":9}"#] {
            assert!(matches!(Transition::decode(bad), Err(LifecycleError::Malformed(_))));
        }
    }
}
