//! Aggregating repeated refusals, so that a flood of forged or broken
//! deliveries does not grow the audit trail without bound.
//!
//! Refusals are grouped by tenant, receiver, reason and source address,
//! per UTC minute. The first refusal of a group is audited at once, as
//! before. Its repeats in the same minute are only counted, in memory; once
//! the minute is over they are audited as one `webhook.rejected` entry with
//! `count`, `first_at` and `last_at` (and the last one's detail and size).
//! At most [`MAX_GROUPS`] groups are held; a refusal that would need another
//! is audited on its own, so memory stays bounded and nothing goes
//! unrecorded. What is counted but not yet written when the process dies
//! (at most a minute's repeats) is lost; a graceful shutdown writes it.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use weir_core::webhook::RefusalReason;
use weir_core::webhook::ingest_plan::Repeats;
use weir_store::RejectedDelivery;

/// Most groups counted at once.
pub const MAX_GROUPS: usize = 10_000;

/// What refusals are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Group {
    /// The receiver's tenant.
    pub tenant_id: String,
    /// The receiver.
    pub receiver_id: String,
    /// Why it was refused.
    pub reason: RefusalReason,
    /// The client's address.
    pub source: Option<String>,
}

/// A refusal as the aggregation reads it (a trait so that the rule can be
/// tested without a store: a [`RejectedDelivery`] needs a tenant scope).
pub trait Refused: Clone {
    /// Its group.
    fn group(&self) -> Group;
    /// When it arrived.
    fn received_at(&self) -> DateTime<Utc>;
    /// This refusal standing for `repeats`.
    fn with_repeats(self, repeats: Repeats) -> Self;
}

impl Refused for RejectedDelivery {
    fn group(&self) -> Group {
        Group {
            tenant_id: self.scope.tenant_id().to_owned(),
            receiver_id: self.receiver_id.clone(),
            reason: self.reason,
            source: self.source.as_deref().map(source_group),
        }
    }

    fn received_at(&self) -> DateTime<Utc> {
        self.received_at
    }

    fn with_repeats(mut self, repeats: Repeats) -> Self {
        self.repeats = Some(repeats);
        self
    }
}

#[derive(Debug)]
struct Window<R> {
    minute: i64,
    repeats: u64,
    first_at: Option<DateTime<Utc>>,
    last: Option<R>,
}

impl<R: Refused> Window<R> {
    /// The entry standing for this window's repeats, if it had any.
    fn summary(self) -> Option<R> {
        let (last, first_at) = (self.last?, self.first_at?);
        let last_at = last.received_at();
        Some(last.with_repeats(Repeats { count: self.repeats, first_at, last_at }))
    }
}

/// What to do with a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Audit it now.
    Audit,
    /// Counted: it is audited with its group's repeats after the minute.
    Counted,
}

/// The groups of this minute, and the summaries of groups whose minute
/// ended while a new one began. Shared by every request of an instance.
#[derive(Debug)]
pub struct RepeatedRefusals<R = RejectedDelivery> {
    inner: Mutex<State<R>>,
    /// Set at shutdown: from then on every refusal is audited on its own
    /// (nothing would write a later summary).
    closed: std::sync::atomic::AtomicBool,
}

impl<R> Default for RepeatedRefusals<R> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(State { windows: HashMap::new(), finished: Vec::new() }),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

#[derive(Debug)]
struct State<R> {
    windows: HashMap<Group, Window<R>>,
    finished: Vec<R>,
}

/// The source a refusal is grouped under: an IPv4 address as it is, an
/// IPv6 address by its /64 (one client holds a whole /64, and could rotate
/// through it to defeat the grouping).
fn source_group(source: &str) -> String {
    match source.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => source.to_owned(),
    }
}

fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

impl<R: Refused> RepeatedRefusals<R> {
    /// Decides whether `r` is audited now or counted with its group.
    pub fn admit(&self, r: &R) -> Admission {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Admission::Audit;
        }
        let (group, at) = (r.group(), r.received_at());
        let minute = minute_of(at);
        let mut state = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let State { windows, finished } = &mut *state;
        let fresh = Window { minute, repeats: 0, first_at: None, last: None };
        let full = windows.len() >= MAX_GROUPS;
        match windows.get_mut(&group) {
            // The same minute, or a straggler of an earlier one (concurrent
            // requests reach here out of order around a minute's end): counted
            // in this window, so the boundary cannot make a burst audit again.
            Some(w) if minute <= w.minute => {
                w.repeats += 1;
                w.first_at = Some(w.first_at.map_or(at, |f| f.min(at)));
                if w.last.as_ref().is_none_or(|l| l.received_at() <= at) {
                    w.last = Some(r.clone());
                }
                Admission::Counted
            }
            Some(w) => {
                let ended = std::mem::replace(w, fresh);
                finished.extend(ended.summary());
                Admission::Audit
            }
            None if full => Admission::Audit,
            None => {
                windows.insert(group, fresh);
                Admission::Audit
            }
        }
    }

    /// Stops counting (at shutdown) and takes every summary left.
    pub fn close(&self) -> Vec<R> {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.take_due(None)
    }

    /// Takes the summaries of every group whose minute ended before `now`
    /// (all of them when `now` is `None`: at shutdown).
    pub fn take_due(&self, now: Option<DateTime<Utc>>) -> Vec<R> {
        let current = now.map(minute_of);
        let mut state = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = std::mem::take(&mut state.finished);
        let ended: Vec<Group> = state
            .windows
            .iter()
            .filter(|(_, w)| current.is_none_or(|c| w.minute < c))
            .map(|(g, _)| g.clone())
            .collect();
        for g in ended {
            if let Some(w) = state.windows.remove(&g) {
                out.extend(w.summary());
            }
        }
        out
    }

    /// Groups held now.
    pub fn groups(&self) -> usize {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Debug, Clone)]
    struct R {
        source: String,
        at: DateTime<Utc>,
        repeats: Option<Repeats>,
    }

    impl Refused for R {
        fn group(&self) -> Group {
            let (tenant_id, receiver_id) = ("t1".into(), "r1".into());
            Group { tenant_id, receiver_id, reason: RefusalReason::SignatureMissing, source: Some(self.source.clone()) }
        }
        fn received_at(&self) -> DateTime<Utc> {
            self.at
        }
        fn with_repeats(self, repeats: Repeats) -> Self {
            Self { repeats: Some(repeats), ..self }
        }
    }

    fn refusal(source: &str, at: DateTime<Utc>) -> R {
        R { source: source.into(), at, repeats: None }
    }

    #[test]
    fn the_first_of_a_minute_is_audited_and_its_repeats_summed_after_it() {
        let r = RepeatedRefusals::<R>::default();
        let t0 = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 5).unwrap();
        assert_eq!(r.admit(&refusal("a", t0)), Admission::Audit);
        for s in 1..=9 {
            assert_eq!(r.admit(&refusal("a", t0 + chrono::Duration::seconds(s))), Admission::Counted);
        }
        assert_eq!(r.admit(&refusal("b", t0)), Admission::Audit, "another source is another group");
        assert!(r.take_due(Some(t0 + chrono::Duration::seconds(30))).is_empty(), "the minute is not over");
        let due = r.take_due(Some(t0 + chrono::Duration::seconds(60)));
        assert_eq!(due.len(), 1, "b had no repeats");
        let n = due[0].repeats.unwrap();
        assert_eq!(
            (n.count, n.first_at, n.last_at),
            (9, t0 + chrono::Duration::seconds(1), t0 + chrono::Duration::seconds(9))
        );
        assert_eq!(r.groups(), 0);
    }

    #[test]
    fn a_new_minute_closes_the_old_window_and_audits_again() {
        let r = RepeatedRefusals::<R>::default();
        let t0 = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 50).unwrap();
        r.admit(&refusal("a", t0));
        r.admit(&refusal("a", t0 + chrono::Duration::seconds(1)));
        assert_eq!(r.admit(&refusal("a", t0 + chrono::Duration::seconds(20))), Admission::Audit);
        let due = r.take_due(None);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].repeats.map(|n| n.count), Some(1));
    }

    #[test]
    fn a_straggler_of_the_minute_before_is_counted_not_audited_again() {
        let r = RepeatedRefusals::<R>::default();
        let next_minute = Utc.with_ymd_and_hms(2026, 12, 3, 10, 1, 0).unwrap();
        let just_before = next_minute - chrono::Duration::milliseconds(2);
        assert_eq!(r.admit(&refusal("a", next_minute)), Admission::Audit);
        // Requests received a moment earlier, admitted a moment later.
        assert_eq!(r.admit(&refusal("a", just_before)), Admission::Counted);
        assert_eq!(r.admit(&refusal("a", next_minute + chrono::Duration::seconds(1))), Admission::Counted);
        let due = r.take_due(None);
        let n = due[0].repeats.unwrap();
        assert_eq!((due.len(), n.count), (1, 2), "one summary counting both");
        assert_eq!((n.first_at, n.last_at), (just_before, next_minute + chrono::Duration::seconds(1)));
    }

    #[test]
    fn ipv6_sources_group_by_their_64() {
        assert_eq!(source_group("2001:db8:1:2:aaaa::1"), source_group("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(source_group("2001:db8:1:2::1"), source_group("2001:db8:1:3::1"));
        assert_eq!(source_group("192.0.2.7"), "192.0.2.7");
        assert_eq!(source_group("::ffff:192.0.2.7"), "::ffff:192.0.2.7");
    }

    #[test]
    fn once_closed_every_refusal_is_audited_on_its_own() {
        let r = RepeatedRefusals::<R>::default();
        let t0 = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        r.admit(&refusal("a", t0));
        assert_eq!(r.admit(&refusal("a", t0)), Admission::Counted);
        assert_eq!(r.close().len(), 1, "the counted repeat is handed over");
        assert_eq!(r.admit(&refusal("a", t0)), Admission::Audit, "nothing counted after shutdown");
        assert_eq!(r.groups(), 0);
    }

    #[test]
    fn groups_are_bounded_and_overflow_is_audited_one_by_one() {
        let r = RepeatedRefusals::<R>::default();
        let t0 = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        for i in 0..MAX_GROUPS {
            r.admit(&refusal(&format!("s{i}"), t0));
        }
        assert_eq!(r.admit(&refusal("one more", t0)), Admission::Audit);
        assert_eq!(r.admit(&refusal("one more", t0)), Admission::Audit, "not counted: no room for its group");
        assert_eq!(r.groups(), MAX_GROUPS);
    }
}
