//! When to try a failed event again: exponential backoff with jitter, and
//! an attempt budget (TASK-007: at most 3 attempts).

use std::time::Duration;

use rand::RngExt as _;

/// Retry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the 1st, 2nd, … failed attempt; the last repeats.
    pub backoff: Vec<Duration>,
    /// Attempts before an event is `failed`.
    pub max_attempts: u32,
    /// Each delay is scaled by a random factor in `1 ± jitter` (0 to 1).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { backoff: Self::DEFAULT_BACKOFF.to_vec(), max_attempts: Self::DEFAULT_MAX_ATTEMPTS, jitter: Self::JITTER }
    }
}

impl RetryPolicy {
    /// Event retries' delays unless configured (`WEIR_RETRY_BACKOFF`).
    pub const DEFAULT_BACKOFF: [Duration; 3] =
        [Duration::from_secs(10), Duration::from_secs(60), Duration::from_secs(300)];
    /// Attempts unless configured (`WEIR_MAX_ATTEMPTS`; TASK-007).
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
    /// The jitter of every policy Weir builds (±20 %).
    pub const JITTER: f64 = 0.2;

    /// True when attempt `attempt` (1-based) may be followed by another.
    pub fn may_retry(&self, attempt: i32) -> bool {
        u32::try_from(attempt).is_ok_and(|a| a < self.max_attempts)
    }

    /// The delay after failed attempt `attempt` (1-based), jittered.
    pub fn delay(&self, attempt: i32) -> Duration {
        let i = usize::try_from(attempt.max(1) - 1).unwrap_or(0);
        let base = self.backoff.get(i).or(self.backoff.last()).copied().unwrap_or(Duration::from_secs(10));
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return base;
        }
        let factor = rand::rng().random_range((1.0 - jitter)..=(1.0 + jitter));
        base.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_budget_ends() {
        let p = RetryPolicy::default();
        for _ in 0..100 {
            let d1 = p.delay(1).as_secs_f64();
            assert!((8.0..=12.0).contains(&d1), "{d1}");
            let d2 = p.delay(2).as_secs_f64();
            assert!((48.0..=72.0).contains(&d2), "{d2}");
            let d9 = p.delay(9).as_secs_f64();
            assert!((240.0..=360.0).contains(&d9), "{d9}");
        }
        assert!(p.may_retry(1) && p.may_retry(2));
        assert!(!p.may_retry(3) && !p.may_retry(4));
        let exact = RetryPolicy { jitter: 0.0, ..RetryPolicy::default() };
        assert_eq!(exact.delay(2), Duration::from_secs(60));
    }
}
