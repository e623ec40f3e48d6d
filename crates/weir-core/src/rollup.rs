//! Which daily counters a fact adds to. Rebuilding the rollups from the
//! raw tables (`weir rollups rebuild`) reads grouped counts; this decides,
//! without a database, what each group counts as.

use crate::state::{RollupCounter, RunStatus};

/// What one grouped count of a rebuild stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    /// Adds to one counter.
    Counter(RollupCounter),
    /// Adds to one counter, and to the error breakdown under the group's kind.
    CounterAndError(RollupCounter),
    /// Finished sync runs, grouped by status.
    Runs,
    /// Only the error breakdown, under the group's kind.
    Error,
}

/// What a grouped count adds: to these counters, and to this error type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counted<'a> {
    /// Counters of `daily_rollups`.
    pub counters: Vec<RollupCounter>,
    /// Error type of `daily_error_rollups` (`unknown` when the fact named none).
    pub error: Option<&'a str>,
}

/// Decides what a group of `tally` with `kind` (a status or error type)
/// counts as. A run status that is not a finished one counts as a run only.
pub fn tally(tally: Tally, kind: Option<&str>) -> Counted<'_> {
    let error = || Some(kind.filter(|k| !k.is_empty()).unwrap_or("unknown"));
    match tally {
        Tally::Counter(c) => Counted { counters: vec![c], error: None },
        Tally::CounterAndError(c) => Counted { counters: vec![c], error: error() },
        Tally::Runs => {
            let mut counters = vec![RollupCounter::SyncsTotal];
            counters.extend(kind.and_then(|k| k.parse::<RunStatus>().ok()).and_then(RunStatus::rollup));
            Counted { counters, error: None }
        }
        Tally::Error => Counted { counters: Vec::new(), error: error() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_count_in_total_and_their_end() {
        let c = tally(Tally::Runs, Some("partial"));
        assert_eq!(c.counters, [RollupCounter::SyncsTotal, RollupCounter::SyncsPartial]);
        assert_eq!(tally(Tally::Runs, Some("cancelled")).counters, [RollupCounter::SyncsTotal]);
        assert_eq!(tally(Tally::Runs, Some("bogus")).counters, [RollupCounter::SyncsTotal]);
        assert_eq!(c.error, None);
    }

    #[test]
    fn errors_keep_their_kind_or_say_unknown() {
        let c = tally(Tally::CounterAndError(RollupCounter::WebhooksFailed), Some("mapping_error"));
        assert_eq!(c, Counted { counters: vec![RollupCounter::WebhooksFailed], error: Some("mapping_error") });
        assert_eq!(tally(Tally::Error, None).error, Some("unknown"));
        assert!(tally(Tally::Error, Some("timeout")).counters.is_empty());
        assert_eq!(tally(Tally::Counter(RollupCounter::WebhooksReceived), Some("x")).error, None);
    }
}
