//! The policy's prerequisites of a person, kept as data on the [`User`]:
//! whether an officer is sworn, when they were last trained in ALPR use,
//! and when their account expires.
//!
//! Policy sections 3 and 6 allow ALPR data to sworn officers, and the City
//! trains every user before access; an account is given for a time. So an
//! officer who is not sworn, or whose training is missing or older than
//! the configured validity (`access.training_valid_days`), cannot search
//! alerts or reads or export, and an expired account of any role can
//! neither log in nor use a session it already has. Pure: today's date is
//! passed in; the API refuses with 403 and audits the refusal.

use chrono::NaiveDate;

use super::auth::{Action, Role};
use super::principals::User;

/// Why a user may not log in, or may not search.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrerequisiteError {
    #[error("the account expired on {0}; the custodian must extend it")]
    AccountExpired(NaiveDate),
    #[error("only a sworn officer may search or export ALPR data, and this account is not marked sworn")]
    NotSworn,
    #[error("no ALPR training is on record for this officer; training is required before searching or exporting")]
    NotTrained,
    #[error("the ALPR training of {trained_on} lapsed on {lapsed_on}; renew it before searching or exporting")]
    TrainingLapsed {
        trained_on: NaiveDate,
        lapsed_on: NaiveDate,
    },
    #[error("the training date {0} is in the future")]
    TrainedInFuture(NaiveDate),
}

/// The actions that need a sworn officer with current training.
pub fn needs_training(action: Action) -> bool {
    matches!(action, Action::SearchAlerts | Action::SearchReads | Action::Export)
}

/// Checks a training date about to be recorded on `today`: nobody was
/// trained in the future.
pub fn check_training_date(trained_on: Option<NaiveDate>, today: NaiveDate) -> Result<(), PrerequisiteError> {
    match trained_on {
        Some(date) if date > today => Err(PrerequisiteError::TrainedInFuture(date)),
        _ => Ok(()),
    }
}

impl User {
    /// The user with the policy's prerequisites set.
    pub fn with_prerequisites(
        mut self,
        sworn: bool,
        trained_on: Option<NaiveDate>,
        expires_on: Option<NaiveDate>,
    ) -> User {
        self.sworn = sworn;
        self.trained_on = trained_on;
        self.expires_on = expires_on;
        self
    }

    /// Checks prerequisites the custodian is about to record on `today`
    /// ([`check_training_date`]).
    pub fn check_new_prerequisites(&self, today: NaiveDate) -> Result<(), PrerequisiteError> {
        check_training_date(self.trained_on, today)
    }

    /// Whether the account is usable on `today`: it is through the day of
    /// `expires_on` (UTC), and no longer after it.
    pub fn check_account(&self, today: NaiveDate) -> Result<(), PrerequisiteError> {
        match self.expires_on {
            Some(last_day) if today > last_day => Err(PrerequisiteError::AccountExpired(last_day)),
            _ => Ok(()),
        }
    }

    /// Whether the user may do `action` on `today` as far as their
    /// prerequisites go (the role's permission is [`super::auth::authorize`]'s):
    /// the account not expired; and for an officer searching or exporting,
    /// sworn and trained within the last `training_valid_days` days.
    pub fn check_prerequisites(
        &self,
        action: Option<Action>,
        today: NaiveDate,
        training_valid_days: u32,
    ) -> Result<(), PrerequisiteError> {
        self.check_account(today)?;
        if self.role != Role::Officer || !action.is_some_and(needs_training) {
            return Ok(());
        }
        if !self.sworn {
            return Err(PrerequisiteError::NotSworn);
        }
        let trained_on = self.trained_on.ok_or(PrerequisiteError::NotTrained)?;
        let lapsed_on = trained_on + chrono::Days::new(u64::from(training_valid_days));
        if trained_on > today {
            return Err(PrerequisiteError::TrainedInFuture(trained_on));
        }
        if today >= lapsed_on {
            return Err(PrerequisiteError::TrainingLapsed { trained_on, lapsed_on });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn officer() -> User {
        User::new("deputy", "RSO", Role::Officer, String::new())
            .unwrap()
            .with_prerequisites(true, Some(date("2025-01-15")), Some(date("2027-06-30")))
    }

    #[test]
    fn a_sworn_officer_with_current_training_may_search() {
        let today = date("2026-12-06");
        for action in [Action::SearchAlerts, Action::SearchReads, Action::Export] {
            assert_eq!(officer().check_prerequisites(Some(action), today, 730), Ok(()));
        }
        assert_eq!(
            officer().check_prerequisites(Some(Action::SearchReads), date("2027-01-14"), 730),
            Ok(()),
            "the last day of training"
        );
    }

    #[test]
    fn an_officer_not_sworn_or_not_currently_trained_may_not_search() {
        let today = date("2026-12-06");
        let search = Some(Action::SearchAlerts);
        let unsworn = User {
            sworn: false,
            ..officer()
        };
        assert_eq!(
            unsworn.check_prerequisites(search, today, 730),
            Err(PrerequisiteError::NotSworn)
        );
        let untrained = User {
            trained_on: None,
            ..officer()
        };
        assert_eq!(
            untrained.check_prerequisites(search, today, 730),
            Err(PrerequisiteError::NotTrained)
        );
        assert_eq!(
            officer().check_prerequisites(search, date("2027-01-15"), 730),
            Err(PrerequisiteError::TrainingLapsed {
                trained_on: date("2025-01-15"),
                lapsed_on: date("2027-01-15"),
            })
        );
        assert_eq!(
            officer()
                .check_prerequisites(search, today, 365)
                .unwrap_err()
                .to_string(),
            "the ALPR training of 2025-01-15 lapsed on 2026-01-15; renew it before searching or exporting"
        );
        assert_eq!(
            unsworn.check_prerequisites(Some(Action::ViewLiveAlerts), today, 730),
            Ok(()),
            "only searches and exports need them"
        );
        let custodian = User {
            role: Role::Custodian,
            ..unsworn
        };
        assert_eq!(
            custodian.check_prerequisites(search, today, 730),
            Ok(()),
            "not an officer"
        );
    }

    #[test]
    fn an_expired_account_may_do_nothing() {
        let last_day = date("2027-06-30");
        assert_eq!(officer().check_account(last_day), Ok(()));
        let after = date("2027-07-01");
        assert_eq!(
            officer().check_account(after),
            Err(PrerequisiteError::AccountExpired(last_day))
        );
        let manager = User::new("manager", "City", Role::Custodian, String::new())
            .unwrap()
            .with_prerequisites(false, None, Some(last_day));
        assert_eq!(
            manager.check_prerequisites(None, after, 730),
            Err(PrerequisiteError::AccountExpired(last_day))
        );
        let forever = User::new("ops", "City", Role::Ops, String::new()).unwrap();
        assert_eq!(forever.check_prerequisites(None, date("2099-01-01"), 730), Ok(()));
    }

    #[test]
    fn old_user_records_decode_without_prerequisites() {
        let old =
            br#"{"username":"deputy","organisation":"RSO","role":"officer","password_hash":"x","disabled":false}"#;
        let user: User = serde_json::from_slice(old).unwrap();
        assert_eq!((user.sworn, user.trained_on, user.expires_on), (false, None, None));
        let trained = officer();
        assert_eq!(trained.check_new_prerequisites(date("2025-01-15")), Ok(()));
        assert_eq!(
            trained.check_new_prerequisites(date("2025-01-14")),
            Err(PrerequisiteError::TrainedInFuture(date("2025-01-15")))
        );
    }
}
