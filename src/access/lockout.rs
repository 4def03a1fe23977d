//! Failed logins: growing delays per (username, client address), counted
//! before the password is checked.
//!
//! A penetration test found two ways the first lockout failed. Forty wrong
//! passwords and the right one sent at once all got an answer, because the
//! lock was checked before the password and the failure counted after; and
//! five failures for one user locked every user out of that address, which
//! behind a Kubernetes Service or an ingress is everyone. So an attempt is
//! counted when it starts ([`Lockout::begin`]) and forgiven only when the
//! password was right ([`Lockout::succeeded`]); only the same username from
//! the same address is slowed; and instead of a hard lock a stranger could
//! trigger for the custodian from anywhere, each failure past the free ones
//! doubles the wait before the next attempt, up to a maximum. Entries are
//! forgotten once quiet for the window, and the table is bounded.
//! With several replicas each counts its own attempts and adds those the
//! others counted ([`crate::access::sessions::Logins::failures_elsewhere`]),
//! passed in as `elsewhere`, so five failures spread over two instances
//! slow the pair as five on one would.
//! Pure: time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// Why an attempt may not start yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many failed logins for this user from this address; try again after {until:?}")]
pub struct Delayed {
    pub until: SystemTime,
}

/// Failed-login limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Attempts that may fail before delays begin.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures are forgotten after this long without one.
    pub window: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            free_failures: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Most (username, address) pairs tracked at once; past it the quietest
/// are forgotten first.
pub const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    /// Attempts that failed or are still being checked.
    count: u32,
    /// When the last of them started.
    last: SystemTime,
}

/// The failure counts of one instance.
#[derive(Debug, Default)]
pub struct Lockout {
    policy: LockoutPolicy,
    failures: HashMap<(String, IpAddr), Failures>,
    /// When quiet pairs were last forgotten.
    pruned: Option<SystemTime>,
}

impl Lockout {
    pub fn new(policy: LockoutPolicy) -> Lockout {
        Lockout {
            policy,
            failures: HashMap::new(),
            pruned: None,
        }
    }

    /// Starts an attempt by `user` from `addr`: refused while the pair
    /// must wait, counting this instance's and the other instances'
    /// (`elsewhere`: their count and latest attempt) failures, otherwise
    /// counted as a failure until [`Self::succeeded`]. Returns this
    /// instance's count, to share. The caller holds the lock around this
    /// call only, so parallel attempts are counted one by one.
    pub fn begin(
        &mut self,
        user: &str,
        addr: IpAddr,
        now: SystemTime,
        elsewhere: Option<(u32, SystemTime)>,
    ) -> Result<u32, Delayed> {
        self.forget_quiet(now);
        let policy = self.policy;
        let key = (user.to_owned(), addr);
        let entry = self.failures.entry(key).or_insert(Failures { count: 0, last: now });
        if now >= entry.last + quiet_for(policy) {
            entry.count = 0;
        }
        let (other_count, other_last) = elsewhere.unwrap_or((0, entry.last));
        let all = Failures {
            count: entry.count + other_count,
            last: entry.last.max(other_last),
        };
        if let Some(until) = wait_until(policy, &all) {
            if now < until {
                return Err(Delayed { until });
            }
        }
        entry.count += 1;
        entry.last = now;
        Ok(entry.count)
    }

    /// How long a pair must be quiet to be forgotten.
    pub fn quiet_for(&self) -> Duration {
        quiet_for(self.policy)
    }

    /// The attempt had the right password: the pair starts afresh.
    pub fn succeeded(&mut self, user: &str, addr: IpAddr) {
        self.failures.remove(&(user.to_owned(), addr));
    }

    /// Pairs currently tracked.
    pub fn tracked(&self) -> usize {
        self.failures.len()
    }

    /// Forgets pairs quiet for the window once the table is large (at most
    /// once a second), and the quietest if it is full.
    fn forget_quiet(&mut self, now: SystemTime) {
        let recently = self.pruned.is_some_and(|p| now < p + Duration::from_secs(1));
        if self.failures.len() < MAX_TRACKED / 2 || (recently && self.failures.len() < MAX_TRACKED) {
            return;
        }
        self.pruned = Some(now);
        let policy = self.policy;
        self.failures
            .retain(|_, f| now.duration_since(f.last).unwrap_or_default() < quiet_for(policy));
        if self.failures.len() >= MAX_TRACKED {
            let mut lasts: Vec<SystemTime> = self.failures.values().map(|f| f.last).collect();
            let cut = lasts.len() - MAX_TRACKED / 2;
            let (_, oldest_kept, _) = lasts.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            self.failures.retain(|_, f| f.last >= oldest_kept);
        }
    }
}

/// How long a pair must be quiet (no attempt) to be forgotten: the window
/// after the longest wait, so waiting out the maximum delay is not enough.
fn quiet_for(policy: LockoutPolicy) -> Duration {
    policy.max_delay + policy.window
}

/// When the next attempt of a pair may start, if it must wait: none while
/// within the free failures or after the window, then the first delay
/// doubled for each failure past the free ones, up to the maximum.
fn wait_until(policy: LockoutPolicy, failures: &Failures) -> Option<SystemTime> {
    if failures.count < policy.free_failures {
        return None;
    }
    let doublings = (failures.count - policy.free_failures).min(30);
    let delay = policy.first_delay.saturating_mul(1 << doublings).min(policy.max_delay);
    Some(failures.last + delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn addr(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    /// The race of the penetration test, in order: every attempt is
    /// counted when it starts, so of 41 started at once only the free ones
    /// get a password check.
    #[test]
    fn parallel_attempts_are_counted_as_they_start() {
        let mut lockout = Lockout::new(LockoutPolicy::default());
        let admitted = (0..41)
            .filter(|_| lockout.begin("custodian", addr(1), at(0), None).is_ok())
            .count();
        assert_eq!(admitted, 5);
        assert_eq!(
            lockout.begin("custodian", addr(1), at(0), None),
            Err(Delayed { until: at(1) })
        );
    }

    /// Five failures spread over two instances slow the pair as five on
    /// one would: this instance adds the other's count and latest attempt.
    #[test]
    fn failures_counted_elsewhere_are_added() {
        let mut lockout = Lockout::new(LockoutPolicy::default());
        for expected in 1..=2 {
            assert_eq!(lockout.begin("deputy", addr(1), at(0), Some((3, at(0)))), Ok(expected));
        }
        assert_eq!(
            lockout.begin("deputy", addr(1), at(0), Some((3, at(0)))),
            Err(Delayed { until: at(1) }),
            "2 here and 3 elsewhere"
        );
        assert_eq!(
            lockout.begin("deputy", addr(1), at(10), Some((3, at(10)))),
            Err(Delayed { until: at(11) }),
            "the wait runs from the latest attempt, wherever it was"
        );
        assert_eq!(lockout.begin("deputy", addr(2), at(0), Some((4, at(0)))), Ok(1));
    }

    #[test]
    fn each_failure_past_the_free_ones_doubles_the_wait_up_to_the_maximum() {
        let mut lockout = Lockout::new(LockoutPolicy::default());
        let mut now = 0;
        for _ in 0..5 {
            lockout.begin("deputy", addr(1), at(now), None).unwrap();
        }
        let mut waits = Vec::new();
        for _ in 0..12 {
            let Err(Delayed { until }) = lockout.begin("deputy", addr(1), at(now), None) else {
                panic!("must wait");
            };
            let wait = until.duration_since(at(now)).unwrap().as_secs();
            waits.push(wait);
            now += wait;
            lockout.begin("deputy", addr(1), at(now), None).unwrap();
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    }

    /// Five failures for one user from an address used to lock every user
    /// out of it; behind an ingress that is everyone.
    #[test]
    fn only_the_same_user_from_the_same_address_is_slowed() {
        let mut lockout = Lockout::new(LockoutPolicy::default());
        for _ in 0..20 {
            let _ = lockout.begin("custodian", addr(66), at(0), None);
        }
        assert!(lockout.begin("custodian", addr(66), at(0), None).is_err());
        assert_eq!(lockout.begin("deputy", addr(66), at(0), None), Ok(1), "another user");
        assert_eq!(
            lockout.begin("custodian", addr(1), at(0), None),
            Ok(1),
            "another address"
        );
    }

    #[test]
    fn a_right_password_forgives_and_quiet_pairs_are_forgotten() {
        let mut lockout = Lockout::new(LockoutPolicy::default());
        for _ in 0..5 {
            lockout.begin("deputy", addr(1), at(0), None).unwrap();
        }
        lockout.succeeded("deputy", addr(1));
        assert_eq!(lockout.begin("deputy", addr(1), at(0), None), Ok(1));
        for i in 0..6 {
            let _ = lockout.begin("sergeant", addr(1), at(i), None);
        }
        for _ in 0..5 {
            let _ = lockout.begin("sergeant", addr(1), at(5), None);
        }
        assert!(
            lockout.begin("sergeant", addr(1), at(5 + 900), None).is_ok(),
            "the maximum wait is over"
        );
        assert!(
            lockout.begin("sergeant", addr(1), at(905), None).is_err(),
            "but not forgotten"
        );
        assert_eq!(
            lockout.begin("sergeant", addr(1), at(905 + 1800), None),
            Ok(1),
            "forgotten after the window of quiet past the longest wait"
        );
        assert_eq!(
            lockout.begin("sergeant", addr(1), at(2706), None),
            Ok(2),
            "the count starts again"
        );
    }

    #[test]
    fn the_table_stays_bounded_under_a_spray_of_names() {
        let mut lockout = Lockout::new(LockoutPolicy::default());
        for i in 0..(MAX_TRACKED as u64 + 10) {
            let _ = lockout.begin(&format!("user{i}"), addr(9), at(i / 1000), None);
        }
        assert!(lockout.tracked() <= MAX_TRACKED, "{}", lockout.tracked());
        assert!(lockout.tracked() >= MAX_TRACKED / 2 - 1);
    }
}
