//! Bounds on the expensive things a client can make the API do: password
//! hashing and large uploads.
//!
//! A penetration test showed why: each argon2id check takes about 19 MiB
//! and 18 ms of a core, and 64 parallel logins of unknown users raised a
//! valid login from 0.03 s to 4.6 s and the process from 1.6 to 4.4 GB;
//! uploads of up to 256 MiB were buffered with no limit on how many at
//! once. A [`Gate`] runs at most one blocking job per core and admits a
//! few more to wait; past that a request is answered at once with 503 and
//! `Retry-After` ([`ApiError::Busy`]) instead of queueing without end.

use tokio::sync::{Semaphore, SemaphorePermit};

use super::state::ApiError;

/// Runs at most `parallel` jobs at once and lets at most `waiting` more
/// wait for a turn; refuses the rest.
pub struct Gate {
    running: Semaphore,
    admitted: Semaphore,
    what: &'static str,
}

impl Gate {
    pub fn new(parallel: usize, waiting: usize, what: &'static str) -> Gate {
        Gate {
            running: Semaphore::new(parallel.max(1)),
            admitted: Semaphore::new(parallel.max(1) + waiting),
            what,
        }
    }

    /// The gate for password hashing: one check per core, four waiting per core.
    pub fn for_passwords() -> Gate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Gate::new(cores, 4 * cores, "too many password checks at once")
    }

    /// A place in the gate, or [`ApiError::Busy`] when it is full. The
    /// place is held until the [`Turn`] is dropped.
    pub fn admit(&self) -> Result<Turn<'_>, ApiError> {
        let admitted = self
            .admitted
            .try_acquire()
            .map_err(|_| ApiError::Busy(self.what.to_owned()))?;
        Ok(Turn {
            gate: self,
            _admitted: admitted,
        })
    }
}

/// A place in a [`Gate`].
pub struct Turn<'a> {
    gate: &'a Gate,
    _admitted: SemaphorePermit<'a>,
}

impl Turn<'_> {
    /// Runs `job` on the blocking pool once one of the gate's places to
    /// run is free.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let _running = self.gate.running.acquire().await.expect("the gate is never closed");
        Ok(tokio::task::spawn_blocking(job).await?)
    }
}

/// Largest number of large uploads read at once.
pub const PARALLEL_UPLOADS: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_gate_refuses_at_once_and_reopens() {
        let gate = Gate::new(1, 1, "busy test");
        let first = gate.admit().unwrap();
        let second = gate.admit().unwrap();
        assert!(matches!(gate.admit(), Err(ApiError::Busy(what)) if what == "busy test"));
        assert_eq!(second.run(|| 3).await.unwrap(), 3, "an admitted turn runs");
        drop((first, second));
        assert_eq!(gate.admit().unwrap().run(|| 7).await.unwrap(), 7);
    }
}
