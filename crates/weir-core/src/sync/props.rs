//! Property tests for the sync rules' parsers and matchers: event-type
//! matching, cron schedules (parse → display → parse), source paths and
//! ordering comparison. The `paths` fuzz target (fuzz/) runs the same checks
//! on arbitrary bytes for longer.

use proptest::prelude::*;

use super::*;
use crate::FieldErrors;

/// A five-field cron expression from pieces croner accepts.
fn cron() -> impl Strategy<Value = String> {
    let field = |max: u32| {
        prop_oneof![
            Just("*".to_owned()),
            (0..=max).prop_map(|n| n.to_string()),
            (1..=max.max(1)).prop_map(|n| format!("*/{n}")),
            (0..=max, 0..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
            (0..=max, 0..=max).prop_map(|(a, b)| format!("{a},{b}")),
        ]
    };
    (
        field(59),
        field(23),
        field(28).prop_map(|f| f.replace('0', "1")),
        field(12).prop_map(|f| f.replace('0', "1")),
        field(6),
    )
        .prop_map(|(m, h, d, mo, w)| format!("{m} {h} {d} {mo} {w}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A configuration takes an event exactly when it lists the type or `*`.
    #[test]
    fn event_type_matching_is_listed_or_star(
        patterns in proptest::collection::vec("\\*|[a-c.*]{0,3}", 0..5),
        event in "[a-c.*]{0,3}",
    ) {
        let expected = patterns.iter().any(|p| p == "*" || *p == event);
        prop_assert_eq!(event_type_matches(&patterns, &event), expected);
        let mut with_star = patterns.clone();
        with_star.push(ANY_EVENT_TYPE.to_owned());
        prop_assert!(event_type_matches(&with_star, &event));
    }

    /// Schedules from any text: refused or parsed, never a panic.
    #[test]
    fn any_text_is_a_schedule_or_refused(s in "[0-9*/,\\- LW#?A-Z@a-z]{0,24}") {
        if let Ok(sched) = Schedule::parse(&s) {
            prop_assert_eq!(sched.as_str(), s.trim());
        }
    }

    /// A schedule prints as it was written (trimmed), that text parses to
    /// the same schedule, and it fires strictly after any time, the same
    /// way each time.
    #[test]
    fn schedules_round_trip_and_fire_later(expr in cron(), pad in "[ \t]{0,2}", at in 0i64..4_000_000_000) {
        let text = format!("{pad}{expr}{pad}");
        let sched = Schedule::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(sched.to_string(), expr.clone());
        let again = Schedule::parse(&sched.to_string()).unwrap();
        prop_assert_eq!(again.as_str(), sched.as_str());
        let t = DateTime::from_timestamp(at, 0).unwrap();
        let next = sched.next_after(t);
        if let Some(n) = next {
            prop_assert!(n > t, "{}: {} is not after {}", expr, n, t);
        }
        prop_assert_eq!(again.next_after(t), next);
    }

    /// `records_path` and `next_path` accept exactly what the mapping path
    /// parser accepts.
    #[test]
    fn source_paths_are_mapping_paths(p in "[a-z.\\[\\]0-9]{0,12}") {
        let spec = SourceSpec {
            path: "/items".into(),
            records_path: Some(p.clone()),
            pagination: Pagination::Cursor { param: "cursor".into(), next_path: p.clone() },
        };
        let mut errors = FieldErrors::new();
        spec.validate(&mut errors);
        prop_assert_eq!(errors.is_empty(), JsonPath::parse(&p).is_ok(), "{:?}: {:?}", p, errors);
    }

    /// Comparing ordering values is antisymmetric and reflexive, whatever
    /// mix of times, numbers and text.
    #[test]
    fn ordering_comparison_is_antisymmetric(
        a in "2026-01-1[0-9]T10:0[0-9]:00(Z|\\+02:00)|-?[0-9]{1,3}(\\.[0-9])?|NaN|inf|[a-z0-9]{0,3}",
        b in "2026-01-1[0-9]T10:0[0-9]:00(Z|\\+02:00)|-?[0-9]{1,3}(\\.[0-9])?|NaN|inf|[a-z0-9]{0,3}",
    ) {
        prop_assert_eq!(compare_ordering(&a, &b), compare_ordering(&b, &a).reverse());
        prop_assert_eq!(compare_ordering(&a, &a), Ordering::Equal);
    }
}
