//! The 30-day rule on capture time, as pure judgements: is the oldest
//! record still kept of an ALPR topic within the retention?
//!
//! Kafka deletes a closed segment once its newest record is past the
//! topic's retention, checking every few minutes, so the oldest record kept
//! may be older than the retention by up to one segment's span and one
//! check interval; [`judge`] calls that late but on time, and anything older
//! a violation (the topic, or something writing to it, keeps data too
//! long). `retention verify` ([`crate::kafka::retention`]) reads the oldest
//! records and prints these verdicts.

use std::time::Duration;

pub mod keybook;
pub mod seal;

/// How long past the retention Kafka may take to delete: one segment's span
/// ([`crate::kafka::topics::SEGMENT_MS`]) and the broker's default check
/// interval of 5 minutes.
pub const DELETION_SLACK: Duration = Duration::from_millis(3_600_000 + 300_000);

/// What the age of the oldest record kept says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Captured within the retention.
    Within { age: Duration },
    /// Past the retention, but within the time Kafka takes to delete.
    Due { age: Duration },
    /// Kept longer than the retention and the deletion slack.
    Violation { age: Duration },
}

/// Judges a record with timestamp `captured_ms` (capture time) at `now_ms`.
pub fn judge(captured_ms: i64, now_ms: i64, retention: Duration) -> Verdict {
    let age = Duration::from_millis(now_ms.saturating_sub(captured_ms).max(0) as u64);
    if age <= retention {
        Verdict::Within { age }
    } else if age <= retention + DELETION_SLACK {
        Verdict::Due { age }
    } else {
        Verdict::Violation { age }
    }
}

/// An age as days and hours, for people.
pub fn days_hours(age: Duration) -> String {
    let hours = age.as_secs() / 3600;
    format!("{}d {}h", hours / 24, hours % 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn a_record_29_days_old_is_within_and_one_31_days_old_is_a_violation() {
        let thirty = Duration::from_secs(30 * 86_400);
        let now = 100 * DAY;
        assert_eq!(
            judge(now - 29 * DAY, now, thirty),
            Verdict::Within {
                age: Duration::from_secs(29 * 86_400)
            }
        );
        assert_eq!(
            judge(now - 30 * DAY - 60_000, now, thirty),
            Verdict::Due {
                age: Duration::from_secs(30 * 86_400 + 60)
            },
            "a minute past: Kafka has up to an hour and five minutes"
        );
        assert_eq!(
            judge(now - 31 * DAY, now, thirty),
            Verdict::Violation {
                age: Duration::from_secs(31 * 86_400)
            }
        );
        assert_eq!(
            judge(now + DAY, now, thirty),
            Verdict::Within { age: Duration::ZERO },
            "from the future"
        );
        assert_eq!(days_hours(Duration::from_secs(29 * 86_400 + 5 * 3600 + 59)), "29d 5h");
    }
}
