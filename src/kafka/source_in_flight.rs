//! A sent batch of the read source and its acknowledgements so far: the
//! source keeps several in flight and settles them oldest first, so it
//! must tell, without waiting, whether a batch is fully acknowledged, and
//! wait for one without losing a result if the wait is cancelled. Beside
//! source.rs to keep that file short; it knows nothing of what a batch holds.

use futures_util::FutureExt;
use rdkafka::producer::DeliveryFuture;

/// Awaits every delivery, in order.
pub(super) async fn await_all(futures: Vec<(usize, DeliveryFuture)>) -> Vec<(usize, Acked)> {
    let mut results = Vec::with_capacity(futures.len());
    for (index, future) in futures {
        results.push((index, future.await));
    }
    results
}

/// What a delivery future yields.
pub(super) type Acked = <DeliveryFuture as std::future::Future>::Output;

/// A sent batch and its acknowledgements so far.
pub(super) struct InFlight<B> {
    pub(super) batch: B,
    /// Deliveries not yet acknowledged.
    pending: Vec<(usize, DeliveryFuture)>,
    /// Deliveries acknowledged (or failed), by index into `batch.outgoing`.
    pub(super) results: Vec<(usize, Acked)>,
}

impl<B> InFlight<B> {
    pub(super) fn new(batch: B, pending: Vec<(usize, DeliveryFuture)>) -> InFlight<B> {
        let results = Vec::with_capacity(pending.len());
        InFlight {
            batch,
            pending,
            results,
        }
    }

    /// Takes the acknowledgements already in, without waiting; true once
    /// every record of the batch has one.
    pub(super) fn poll_acked(&mut self) -> bool {
        let mut index = 0;
        while index < self.pending.len() {
            match (&mut self.pending[index].1).now_or_never() {
                Some(result) => {
                    let (record, _) = self.pending.swap_remove(index);
                    self.results.push((record, result));
                }
                None => index += 1,
            }
        }
        self.pending.is_empty()
    }

    /// Waits until every record of the batch is acknowledged. Safe to
    /// cancel: a delivery leaves `pending` only with its result.
    pub(super) async fn acked(&mut self) {
        while let Some((_, delivery)) = self.pending.last_mut() {
            let result = delivery.await;
            let (record, _) = self.pending.pop().expect("last exists");
            self.results.push((record, result));
        }
    }
}
