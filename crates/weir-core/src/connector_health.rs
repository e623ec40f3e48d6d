//! Connector health: one rule set, used by the dashboard and documented in
//! `docs/dashboard.md`. Inputs come from the day rollups (successes and
//! failures in the range) and the connector's running counters
//! (consecutive failures, whether the last activity failed).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A connector's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Neither degraded nor failing (no activity in the range counts as healthy).
    Healthy,
    /// Some failures: the success rate is below 95 %, or the last activity failed.
    Degraded,
    /// Broken: the last 3 activities failed, or the success rate is below 50 %.
    Failing,
    /// Switched off.
    Inactive,
}

impl Health {
    /// The wire name (`healthy`, `degraded`, `failing`, `inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Failing => "failing",
            Health::Inactive => "inactive",
        }
    }
}

/// Consecutive failures from which a connector is failing.
pub const FAILING_CONSECUTIVE: u32 = 3;
/// Success rate below which a connector is failing.
pub const FAILING_RATE: f64 = 0.5;
/// Success rate below which a connector is degraded.
pub const DEGRADED_RATE: f64 = 0.95;

/// What health is decided from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HealthInputs {
    /// Whether the connector is in service.
    pub is_active: bool,
    /// Successful activities in the range (completed events, succeeded or partial runs).
    pub successes: u64,
    /// Failed activities in the range (failed events, failed runs).
    pub failures: u64,
    /// Failed activities since the last success (any time).
    pub consecutive_failures: u32,
    /// Whether the most recent activity failed.
    pub last_activity_failed: bool,
}

/// Successes over all finished activities; 1 when there were none.
pub fn success_rate(successes: u64, failures: u64) -> f64 {
    let total = successes + failures;
    if total == 0 { 1.0 } else { successes as f64 / total as f64 }
}

/// The rule set, in order: inactive, failing, degraded, healthy.
pub fn health(i: HealthInputs) -> Health {
    if !i.is_active {
        return Health::Inactive;
    }
    let rate = success_rate(i.successes, i.failures);
    if i.consecutive_failures >= FAILING_CONSECUTIVE || rate < FAILING_RATE {
        return Health::Failing;
    }
    if rate < DEGRADED_RATE || i.last_activity_failed {
        return Health::Degraded;
    }
    Health::Healthy
}

/// Health from recent activity alone (no range to take a success rate
/// over): what the store tracks as each outcome is recorded, to tell when a
/// connector's health changes. The same rules as [`health`] with a perfect
/// rate.
pub fn recent_health(consecutive_failures: u32, last_activity_failed: bool) -> Health {
    health(HealthInputs { is_active: true, consecutive_failures, last_activity_failed, ..Default::default() })
}

/// A connector's running counters after `outcomes` (in order, `true` =
/// failed), from `consecutive_failures` before: (consecutive failures, the
/// last outcome failed). A success anywhere restarts the count.
pub fn after_activity(consecutive_failures: u32, outcomes: &[bool]) -> (u32, bool) {
    let trailing = outcomes.iter().rev().take_while(|f| **f).count() as u32;
    let had_success = outcomes.iter().any(|f| !*f);
    let last_failed = outcomes.last().copied().unwrap_or(false);
    let after = if had_success { trailing } else { consecutive_failures.saturating_add(trailing) };
    (after, last_failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_health_is_the_rule_with_a_perfect_rate() {
        assert_eq!(recent_health(0, false), Health::Healthy);
        assert_eq!(recent_health(1, true), Health::Degraded);
        assert_eq!(recent_health(FAILING_CONSECUTIVE - 1, true), Health::Degraded);
        assert_eq!(recent_health(FAILING_CONSECUTIVE, true), Health::Failing);
    }

    #[test]
    fn activity_folds_into_the_counters() {
        assert_eq!(after_activity(2, &[true]), (3, true), "failures add up");
        assert_eq!(after_activity(5, &[true, false]), (0, false), "a success restarts the count");
        assert_eq!(after_activity(5, &[false, true, true]), (2, true));
        assert_eq!(after_activity(4, &[]), (4, false));
        assert_eq!(after_activity(u32::MAX, &[true]), (u32::MAX, true));
    }

    fn h(successes: u64, failures: u64, consecutive: u32, last_failed: bool) -> Health {
        health(HealthInputs {
            is_active: true,
            successes,
            failures,
            consecutive_failures: consecutive,
            last_activity_failed: last_failed,
        })
    }

    #[test]
    fn each_rule_at_its_boundary() {
        assert_eq!(health(HealthInputs { is_active: false, failures: 99, ..Default::default() }), Health::Inactive);
        assert_eq!(h(0, 0, 0, false), Health::Healthy, "no activity is not a failure");
        // Consecutive failures: 2 degraded (last failed), 3 failing.
        assert_eq!(h(100, 2, 2, true), Health::Degraded);
        assert_eq!(h(100, 3, 3, true), Health::Failing);
        // Rate 0.5 exactly is not failing; just below is.
        assert_eq!(h(50, 50, 0, false), Health::Degraded);
        assert_eq!(h(49, 51, 0, false), Health::Failing);
        // Rate 0.95 exactly is healthy; just below is degraded.
        assert_eq!(h(95, 5, 0, false), Health::Healthy);
        assert_eq!(h(94, 6, 0, false), Health::Degraded);
        // The last activity failing degrades an otherwise perfect record.
        assert_eq!(h(1000, 1, 1, true), Health::Degraded);
        assert_eq!(success_rate(0, 0), 1.0);
        assert_eq!(success_rate(3, 1), 0.75);
    }
}
