//! Where SAML responses are verified: off the request workers, a few at a
//! time, each within a time cap.
//!
//! An XML signature check is CPU work that an anonymous POST can ask for.
//! Run on a request worker, it would stall every other request of that
//! worker for as long as it takes; run without a bound, a flood of them
//! would take every core. So each check runs on tokio's blocking pool,
//! holding one of a fixed number of permits (the number of cores), and the
//! ACS waits for it at most [`VerifyPool::cap`]: a response that is still
//! queued or still being checked by then is refused
//! ([`Refusal::VerifierBusy`], [`Refusal::VerificationTimeout`]). A check
//! that overruns keeps its permit until it really ends, so overrunning checks
//! can never pile up beyond the permits.
//!
//! What bounds one check's work is [`super::precheck`]; the cap is the
//! backstop that turns anything it missed into a refusal, not a stall.

use super::Refusal;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Runs verifications on the blocking pool, bounded in number and time.
#[derive(Debug, Clone)]
pub struct VerifyPool {
    permits: Arc<Semaphore>,
    cap: Duration,
}

/// How long the ACS waits for a verification, queueing included, unless
/// `[server].saml_verify_timeout` says otherwise.
pub const DEFAULT_CAP: Duration = Duration::from_secs(2);

impl VerifyPool {
    /// At most `parallel` checks at once (at least one), each awaited at
    /// most `cap`.
    pub fn new(parallel: usize, cap: Duration) -> VerifyPool {
        VerifyPool {
            permits: Arc::new(Semaphore::new(parallel.max(1))),
            cap,
        }
    }

    /// One check at a time per core, each awaited at most `cap`.
    pub fn per_core(cap: Duration) -> VerifyPool {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        VerifyPool::new(cores, cap)
    }

    /// The time cap.
    pub fn cap(&self) -> Duration {
        self.cap
    }

    /// Runs `check` on the blocking pool and waits for its answer, or
    /// refuses when no permit came free or the answer did not come within
    /// the cap.
    pub async fn run<T, F>(&self, check: F) -> Result<T, Refusal>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Refusal> + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + self.cap;
        let permit = tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Refusal::VerifierBusy)?
            .map_err(|_| Refusal::VerifierUnavailable)?;
        let job = tokio::task::spawn_blocking(move || {
            let answer = check();
            drop(permit);
            answer
        });
        match tokio::time::timeout_at(deadline, job).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(Refusal::VerifierUnavailable),
            Err(_) => Err(Refusal::VerificationTimeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_within_the_cap_is_passed_on() {
        let pool = VerifyPool::new(1, Duration::from_secs(1));
        assert_eq!(pool.run(|| Ok(7)).await, Ok(7));
        assert_eq!(
            pool.run(|| Err::<(), _>(Refusal::BadSignature)).await,
            Err(Refusal::BadSignature)
        );
    }

    #[tokio::test]
    async fn a_check_past_the_cap_is_refused_and_keeps_its_permit() {
        let pool = VerifyPool::new(1, Duration::from_millis(100));
        let slow = pool.run(|| {
            std::thread::sleep(Duration::from_millis(400));
            Ok(())
        });
        assert_eq!(slow.await, Err(Refusal::VerificationTimeout));
        // The slow check still runs and holds the only permit: the next one
        // cannot start within its cap.
        assert_eq!(pool.run(|| Ok(())).await, Err(Refusal::VerifierBusy));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(pool.run(|| Ok(())).await, Ok(()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_request_worker_is_free_while_a_check_runs() {
        let pool = VerifyPool::new(1, Duration::from_secs(2));
        let check = tokio::spawn(async move {
            pool.run(|| {
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            })
            .await
        });
        // On this single worker thread, a timer still fires during the check.
        let started = std::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(started.elapsed() < Duration::from_millis(200));
        assert_eq!(check.await.ok(), Some(Ok(())));
    }
}
