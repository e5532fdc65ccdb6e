//! The queue between the dispatcher and the tasks that send probes.
//!
//! The dispatcher queues every due probe; a job goes straight to an idle worker when
//! there is one, otherwise it waits in line and the dispatcher may start a worker.
//! Workers take jobs until none comes for a while, then end. So the prober holds one
//! task per probe being *sent* (what the target's latency keeps busy), not one per probe
//! due: when the machine cannot keep up, due probes wait as small queued jobs, and the
//! dispatcher (told so by the caller) starts no more workers, since more tasks would only
//! share the same starved thread.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

/// Jobs in line and the workers waiting for them.
#[derive(Debug)]
pub(crate) struct WorkQueue<J> {
    state: Mutex<State<J>>,
    max_workers: usize,
}

#[derive(Debug)]
struct State<J> {
    jobs: VecDeque<J>,
    /// Idle workers, the most recently idle last; each takes one job.
    idle: Vec<oneshot::Sender<J>>,
    workers: usize,
    /// The most workers that ran at once.
    peak: usize,
    closed: bool,
}

impl<J> WorkQueue<J> {
    /// A queue served by at most `max_workers` (≥ 1) workers.
    pub(crate) fn new(max_workers: usize) -> Self {
        Self {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                idle: Vec::new(),
                workers: 0,
                peak: 0,
                closed: false,
            }),
            max_workers: max_workers.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<J>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `job` to an idle worker or queues it. Returns `true` when the caller must
    /// start a worker (which then calls [`WorkQueue::next`]): none was idle, fewer than
    /// the maximum run, and `may_grow` (or no worker runs at all).
    pub(crate) fn push(&self, job: J, may_grow: bool) -> bool {
        let mut state = self.lock();
        let mut job = job;
        while let Some(worker) = state.idle.pop() {
            match worker.send(job) {
                Ok(()) => return false,
                // That worker stopped waiting (idle too long): try the next.
                Err(back) => job = back,
            }
        }
        state.jobs.push_back(job);
        if state.workers < self.max_workers && (may_grow || state.workers == 0) {
            state.workers += 1;
            state.peak = state.peak.max(state.workers);
            return true;
        }
        false
    }

    /// The next job for a worker, waiting up to `idle_for` for one; `None` when the
    /// worker should end (nothing came, or the queue is closed and empty).
    pub(crate) async fn next(&self, idle_for: Duration) -> Option<J> {
        loop {
            let mut waiting = {
                let mut state = self.lock();
                if let Some(job) = state.jobs.pop_front() {
                    return Some(job);
                }
                if state.closed {
                    state.workers -= 1;
                    return None;
                }
                let (tx, rx) = oneshot::channel();
                state.idle.push(tx);
                rx
            };
            match tokio::time::timeout(idle_for, &mut waiting).await {
                Ok(Ok(job)) => return Some(job),
                // Closed: look at the queue once more.
                Ok(Err(_)) => continue,
                Err(_) => {
                    // No more jobs may arrive; one sent just now is still taken.
                    waiting.close();
                    if let Ok(job) = waiting.try_recv() {
                        return Some(job);
                    }
                    let mut state = self.lock();
                    state.workers -= 1;
                    return None;
                }
            }
        }
    }

    /// No more jobs: idle workers end now, busy ones once the queue is empty.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        // Dropping their senders wakes them.
        state.idle.clear();
    }

    /// The most workers that ran at once.
    pub(crate) fn peak_workers(&self) -> usize {
        self.lock().peak
    }

    /// Workers running (busy or idle).
    #[cfg(test)]
    fn workers(&self) -> usize {
        self.lock().workers
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    /// Workers are started only while none is idle, up to the maximum, and not when the
    /// caller says not to grow (unless none runs).
    #[tokio::test]
    async fn starts_workers_only_when_none_is_idle() {
        let queue = WorkQueue::new(2);
        assert!(queue.push(1, false), "no worker runs: one must start");
        assert!(!queue.push(2, false), "the caller said not to grow");
        assert!(queue.push(3, true));
        assert!(!queue.push(4, true), "at the maximum");
        assert_eq!((queue.workers(), queue.peak_workers()), (2, 2));
        // The two workers take the jobs in order.
        let taken = [queue.next(LONG).await, queue.next(LONG).await, queue.next(LONG).await];
        assert_eq!(taken, [Some(1), Some(2), Some(3)]);
    }

    /// A job pushed while a worker waits goes to that worker, without starting another.
    #[tokio::test]
    async fn an_idle_worker_gets_the_next_job() {
        let queue = Arc::new(WorkQueue::new(4));
        assert!(queue.push(0, true));
        assert_eq!(queue.next(LONG).await, Some(0));
        let worker = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.next(LONG).await }
        });
        while queue.lock().idle.is_empty() {
            tokio::task::yield_now().await;
        }
        assert!(!queue.push(7, true), "a worker was idle");
        assert_eq!(worker.await.expect("worker"), Some(7));
        assert_eq!(queue.workers(), 1);
    }

    /// An idle worker ends after `idle_for`, and one that is closed ends at once; both
    /// leave the count.
    #[tokio::test]
    async fn idle_workers_end() {
        let queue = Arc::new(WorkQueue::<u32>::new(4));
        assert!(queue.push(0, true));
        assert!(queue.push(1, true));
        assert_eq!(queue.next(LONG).await, Some(0));
        assert_eq!(queue.next(LONG).await, Some(1));
        assert_eq!(queue.next(Duration::from_millis(20)).await, None);
        assert_eq!(queue.workers(), 1);
        let closed = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.next(LONG).await }
        });
        while queue.lock().idle.is_empty() {
            tokio::task::yield_now().await;
        }
        queue.close();
        assert_eq!(closed.await.expect("worker"), None);
        assert_eq!(queue.workers(), 0);
    }
}
