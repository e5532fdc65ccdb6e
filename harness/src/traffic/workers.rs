//! The queue between the dispatcher and the tasks that send probes.
//!
//! The dispatcher queues every due probe; a job goes straight to an idle worker when
//! there is one, otherwise it waits in line and the dispatcher may start workers for it.
//! Workers take jobs until none comes for a while, then end. So the prober holds one
//! task per probe being *sent* (what the target's latency keeps busy), not one per probe
//! due: a worker is started only when a connection can be had for it now, and none when
//! the machine cannot keep up (more tasks would only share the same starved thread);
//! meanwhile due probes wait as small queued jobs.

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
    /// Workers started that have not asked for a job yet.
    starting: usize,
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
                starting: 0,
                peak: 0,
                closed: false,
            }),
            max_workers: max_workers.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<J>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `job` to an idle worker or queues it. Returns how many workers the caller
    /// must start (each then calls [`WorkQueue::started`] and [`WorkQueue::next`]): one
    /// per queued job no starting worker will take, at most `room` (the connections to
    /// be had now, 0 when the machine is the bottleneck) less those starting, within
    /// the maximum; one when no worker runs at all.
    pub(crate) fn push(&self, job: J, room: usize) -> usize {
        let mut state = self.lock();
        let mut job = job;
        while let Some(worker) = state.idle.pop() {
            match worker.send(job) {
                Ok(()) => return 0,
                // That worker stopped waiting (idle too long): try the next.
                Err(back) => job = back,
            }
        }
        state.jobs.push_back(job);
        let untaken = state.jobs.len().saturating_sub(state.starting);
        let mut start = untaken
            .min(room.saturating_sub(state.starting))
            .min(self.max_workers.saturating_sub(state.workers));
        if state.workers == 0 {
            start = start.max(1);
        }
        state.workers += start;
        state.starting += start;
        state.peak = state.peak.max(state.workers);
        start
    }

    /// Called once by a new worker before its first [`WorkQueue::next`].
    pub(crate) fn started(&self) {
        let mut state = self.lock();
        state.starting = state.starting.saturating_sub(1);
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
                    // Its sender, and those of others that left the same way.
                    state.idle.retain(|worker| !worker.is_closed());
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

    /// Workers are started for queued jobs no starting worker will take, within the
    /// room given and the maximum; one when none runs whatever the room.
    #[tokio::test]
    async fn starts_workers_for_jobs_within_the_room() {
        let queue = WorkQueue::new(3);
        assert_eq!(queue.push(1, 0), 1, "no worker runs: one must start");
        assert_eq!(queue.push(2, 0), 0, "no room");
        assert_eq!(queue.push(3, 1), 0, "the one room is the worker starting");
        assert_eq!(queue.push(4, 8), 2, "two more jobs need a worker; one more fits");
        assert_eq!(queue.push(5, 8), 0, "at the maximum");
        assert_eq!((queue.workers(), queue.peak_workers()), (3, 3));
        queue.started();
        // The workers take the jobs in order.
        let taken = [queue.next(LONG).await, queue.next(LONG).await, queue.next(LONG).await];
        assert_eq!(taken, [Some(1), Some(2), Some(3)]);
    }

    /// A job pushed while a worker waits goes to that worker, without starting another.
    #[tokio::test]
    async fn an_idle_worker_gets_the_next_job() {
        let queue = Arc::new(WorkQueue::new(4));
        assert_eq!(queue.push(0, 4), 1);
        queue.started();
        assert_eq!(queue.next(LONG).await, Some(0));
        let worker = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.next(LONG).await }
        });
        while queue.lock().idle.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(queue.push(7, 4), 0, "a worker was idle");
        assert_eq!(worker.await.expect("worker"), Some(7));
        assert_eq!(queue.workers(), 1);
    }

    /// An idle worker ends after `idle_for`, and one that is closed ends at once; both
    /// leave the count.
    #[tokio::test]
    async fn idle_workers_end() {
        let queue = Arc::new(WorkQueue::<u32>::new(4));
        assert_eq!(queue.push(0, 4), 1);
        assert_eq!(queue.push(1, 4), 1);
        assert_eq!(queue.next(LONG).await, Some(0));
        assert_eq!(queue.next(LONG).await, Some(1));
        assert_eq!(queue.next(Duration::from_millis(20)).await, None);
        assert_eq!(queue.workers(), 1);
        assert!(
            queue.lock().idle.is_empty(),
            "a worker that left is still listed as idle"
        );
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
