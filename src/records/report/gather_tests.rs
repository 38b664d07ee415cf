//! The report's rows turned into figures: who was on the roster at each end, who joined, was promoted
//! or left, which handovers count, and mail summed from days into months.

use chrono::NaiveDate;

use super::*;
use crate::store::{HandoverAssetRow, PersonRow};

const DAY: i64 = 86_400_000;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn at(y: i32, m: u32, d: u32) -> i64 {
    ms(day(y, m, d))
}

fn person(id: i64, name: &str) -> PersonRow {
    PersonRow {
        id,
        name: name.to_owned(),
        alias: String::new(),
        tz: String::new(),
        state: "active".to_owned(),
        state_since_ms: 0,
        created_ms: 0,
        last_seen_ms: 0,
    }
}

fn stint(person_id: i64, role: &str, since_ms: i64, until_ms: i64) -> RoleRow {
    RoleRow {
        person_id,
        role: role.to_owned(),
        since_ms,
        until_ms,
    }
}

fn year() -> Period {
    Period {
        since: day(2025, 1, 1),
        until: day(2026, 1, 1),
    }
}

/// Guards against: counting the leader stint as a place on the roster, a promotion as a join, a
/// promotion's end as a departure, or changes outside the period.
#[test]
fn roster_ends_and_changes_follow_the_stints() {
    let rows = RosterRows {
        people: vec![
            person(1, "Ada"),
            person(2, "Bob"),
            PersonRow {
                state: "retired".to_owned(),
                state_since_ms: at(2025, 9, 30),
                ..person(3, "Cyd")
            },
            person(4, "Dee"),
        ],
        roles: vec![
            // Ada: triage before the year, promoted to se in March, leads beside it.
            stint(1, "triage", at(2024, 5, 1), at(2025, 3, 10)),
            stint(1, "se", at(2025, 3, 10), 0),
            stint(1, "leader", at(2024, 6, 1), 0),
            // Bob joins in June as triage.
            stint(2, "triage", at(2025, 6, 2), 0),
            // Cyd retires in September: the state says so, the stint stays open.
            stint(3, "triage", at(2024, 1, 1), 0),
            // Dee joined and left before the year.
            stint(4, "assurer", at(2023, 1, 1), at(2024, 1, 1)),
        ],
        ..RosterRows::default()
    };
    let f = roster_figures(&rows, &year());
    let names = |m: &[Member]| -> Vec<(String, String)> {
        m.iter().map(|m| (m.name.clone(), m.role.clone())).collect()
    };
    let pair = |n: &str, r: &str| (n.to_owned(), r.to_owned());
    assert_eq!(
        names(&f.at_start),
        [pair("Ada", "triage"), pair("Cyd", "triage")]
    );
    assert_eq!(names(&f.at_end), [pair("Bob", "triage"), pair("Ada", "se")]);
    assert_eq!(f.joins.len(), 1);
    assert_eq!(
        (f.joins[0].name.as_str(), f.joins[0].date),
        ("Bob", day(2025, 6, 2))
    );
    assert_eq!(f.promotions.len(), 1);
    assert_eq!(f.promotions[0].role, "se");
    assert_eq!(f.promotions[0].previous.as_deref(), Some("triage"));
    assert_eq!(f.departures.len(), 1);
    assert_eq!(
        (f.departures[0].name.as_str(), f.departures[0].date),
        ("Cyd", day(2025, 9, 30))
    );
}

/// Guards against: an empty roster failing, or handovers outside the period counted.
#[test]
fn handovers_in_the_period_with_names_and_verification() {
    let roster = RosterRows {
        people: vec![person(1, "Ada"), person(2, "Bob")],
        ..RosterRows::default()
    };
    let handover = |id, opened_ms, to_person| crate::store::HandoverRow {
        id,
        scope: "retire".to_owned(),
        from_person: 1,
        to_person,
        reason: String::new(),
        opened_ms,
        opened_by: String::new(),
        confirmed_by: 0,
        confirmed_os_user: String::new(),
        confirmed_ms: 0,
        closed_ms: 0,
    };
    let asset = |handover_id, state: &str| HandoverAssetRow {
        id: 0,
        handover_id,
        asset: "mailbox".to_owned(),
        kind: "imap".to_owned(),
        critical: false,
        rights: String::new(),
        state: state.to_owned(),
        error: String::new(),
        applied_ms: 0,
        updated_ms: 0,
    };
    let team = TeamRows {
        roster,
        handovers: vec![
            handover(1, at(2024, 12, 31), 2),
            handover(2, at(2025, 4, 1), 2),
            handover(3, at(2025, 8, 1), 0),
        ],
        assets: vec![
            asset(2, "verified"),
            asset(2, "verified"),
            asset(3, "pending"),
        ],
    };
    let rows = handover_rows(&team, &year());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].to.as_deref(), Some("Bob"));
    assert_eq!((rows[0].assets, rows[0].verified), (2, true));
    assert_eq!(rows[1].to, None);
    assert!(!rows[1].verified);
    assert!(
        roster_figures(&RosterRows::default(), &year())
            .at_end
            .is_empty()
    );
}

/// Guards against: a day counted in the wrong month at a month's edge.
#[test]
fn days_sum_into_their_months() {
    let last_of_jan = at(2025, 1, 31) / DAY;
    let first_of_feb = at(2025, 2, 1) / DAY;
    let rows = mail_rows([
        (last_of_jan, "Junk".to_owned(), 3),
        (first_of_feb, "Junk".to_owned(), 4),
    ]);
    let mail = MailFigures::from_counts(&year(), rows);
    assert_eq!(mail.months[0].counts.get("Junk"), Some(&3));
    assert_eq!(mail.months[1].counts.get("Junk"), Some(&4));
    assert_eq!(mail.total, 7);
}
