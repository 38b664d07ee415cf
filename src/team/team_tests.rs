//! The team room on both backends: the pipeline's preconditions and overrides, refusals, the welcome
//! pack's tick, pings and their replies, health past the grace, retiring, importing; and, without a
//! store, the shipped files, the grammar of facts and of the import file.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use chrono::{DateTime, TimeZone as _, Utc};

use super::*;
use crate::message::MessageInfo;
use crate::outbox::Outbox;
use crate::store::testing::backend_tests;
use crate::templates::Templates;

fn t0() -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
        .single()
        .ok_or_else(|| anyhow!("date"))
}

fn days_later(n: u64) -> Result<DateTime<Utc>> {
    Ok(t0()? + Duration::from_secs(n * 86_400))
}

/// A config in `dir` with the shipped rules, a file transport and the default `[team]`.
fn config(dir: &Path, team: &str) -> Result<Config> {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/support.sieve");
    let path = dir.join("triaged.toml");
    std::fs::write(
        &path,
        format!(
            "[mailbox]\nurl = \"maildir:mail\"\n[rules]\nscript = \"{}\"\n[outbox]\n\
             transport = \"file:out\"\nfrom = \"Support <support@example.org>\"\n{team}",
            rules.display()
        ),
    )?;
    Ok(Config::load(&path)?)
}

fn team() -> Result<(tempfile::TempDir, Config, Team)> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path(), "")?;
    let team = Team::load(&config)?;
    Ok((dir, config, team))
}

fn member(name: &str, addr: &str, roles: &[Role], since: DateTime<Utc>) -> NewMember {
    NewMember {
        name: name.to_owned(),
        addresses: vec![addr.to_owned()],
        roles: roles.to_vec(),
        since: Some(since),
        ..NewMember::default()
    }
}

/// A Triage member of ten months, with everything for SE but the ABC and Board approval.
async fn santa(store: &Store, team: &Team) -> Result<Person> {
    let since = t0()? - Duration::from_secs(300 * 86_400);
    let new = member(
        "Santa Claus",
        "presents@example.org",
        &[Role::Triage],
        since,
    );
    add(store, team, &new, "alice", t0()?).await?;
    for fact in ["assurer", "triage-3", "support-1", "recommendation"] {
        record(store, "santa", fact, "", "", "alice", t0()?).await?;
    }
    find(store, "presents@example.org").await
}

async fn refused(store: &Store, team: &Team, to: Role) -> Result<Refused> {
    let err = promote(store, team, "santa", to, None, "alice", t0()?)
        .await
        .err()
        .ok_or_else(|| anyhow!("promoted with preconditions missing"))?;
    err.downcast::<Refused>()
        .map_err(|e| anyhow!("not a refusal: {e:#}"))
}

async fn se_needs_the_abc_and_board_approval_then_opens_new_se(store: Store) -> Result<()> {
    let (_dir, _config, team) = team()?;
    santa(&store, &team).await?;
    let r = refused(&store, &team, Role::Se).await?;
    assert_eq!(r.missing.len(), 2, "{:?}", r.missing);
    assert!(
        r.missing[0].starts_with("a completed ABC"),
        "{:?}",
        r.missing
    );
    assert_eq!(r.missing[1], "Board approval");
    record(&store, "santa", "abc", "pending", "", "alice", t0()?).await?;
    let r = refused(&store, &team, Role::Se).await?;
    assert!(
        r.missing[0].contains("recorded: pending"),
        "{:?}",
        r.missing
    );
    record(
        &store,
        "santa",
        "abc",
        "a20261120.3 passed",
        "",
        "alice",
        t0()?,
    )
    .await?;
    record(
        &store,
        "santa",
        "board-approval",
        "2026-11-25",
        "",
        "alice",
        t0()?,
    )
    .await?;
    let p = promote(&store, &team, "santa", Role::Se, None, "alice", t0()?).await?;
    assert_eq!((p.from, p.to), (Some(Role::Triage), Role::Se));
    assert!(p.overridden.is_empty());
    let opened: Vec<&str> = p.opened.iter().map(|o| o.checklist.as_str()).collect();
    assert_eq!(opened, ["new-se"]);
    let santa = find(&store, "santa").await?;
    assert_eq!(santa.role, Role::Se);
    let events = store
        .events(Some("person:presents@example.org"), 100)
        .await?;
    assert!(
        events
            .iter()
            .any(|e| e.action == "promoted" && e.actor == "alice"),
        "{events:?}"
    );
    Ok(())
}

async fn an_override_is_recorded_with_its_reason(store: Store) -> Result<()> {
    let (_dir, _config, team) = team()?;
    santa(&store, &team).await?;
    let why = "Board approved at the AGM; the ABC paperwork follows";
    let p = promote(&store, &team, "santa", Role::Se, Some(why), "alice", t0()?).await?;
    assert_eq!(p.overridden.len(), 2);
    let events = store
        .events(Some("person:presents@example.org"), 100)
        .await?;
    let over = events
        .iter()
        .find(|e| e.action == "override")
        .ok_or_else(|| anyhow!("no override event: {events:?}"))?;
    assert_eq!(over.reason, why);
    assert!(over.detail.contains("Board approval"), "{}", over.detail);
    Ok(())
}

async fn the_triage_term_counts_and_bad_moves_are_refused(store: Store) -> Result<()> {
    let (_dir, _config, team) = team()?;
    let new = member("Nick", "nick@example.org", &[Role::Triage], t0()?);
    add(&store, &team, &new, "alice", t0()?).await?;
    let roster = Roster::from_rows(Store::team_roster_in(&mut store.begin().await?, None).await?)?;
    let nick = roster.find("nick")?;
    let lacking = missing(&team, &roster, nick, Role::Se, days_later(10)?);
    assert!(
        lacking.contains(&"a served term as Triage (90 days; served 10 days)".to_owned()),
        "{lacking:?}"
    );
    let lacking = missing(&team, &roster, nick, Role::Se, days_later(91)?);
    assert!(
        !lacking.iter().any(|m| m.contains("served term")),
        "{lacking:?}"
    );
    for (to, says) in [(Role::Triage, "already holds"), (Role::Assurer, "demotion")] {
        let err = promote(&store, &team, "nick", to, None, "alice", t0()?).await;
        let err = err.err().ok_or_else(|| anyhow!("promoted to {to}"))?;
        assert!(
            err.is::<Invalid>() && err.to_string().contains(says),
            "{err:#}"
        );
    }
    let twice = add(
        &store,
        &team,
        &member("Nick 2", "NICK@example.org", &[Role::Assurer], t0()?),
        "a",
        t0()?,
    )
    .await;
    assert!(
        twice.err().is_some_and(|e| e.is::<Invalid>()),
        "same address twice"
    );
    let err = find(&store, "nobody")
        .await
        .err()
        .ok_or_else(|| anyhow!("found nobody"))?;
    let unknown = err.downcast::<Unknown>().map_err(|e| anyhow!("{e:#}"))?;
    assert_eq!(unknown.valid, ["Nick"]);
    Ok(())
}

async fn one_active_leader_at_a_time(store: Store) -> Result<()> {
    let (_dir, _config, team) = team()?;
    let lead = member("Lead", "lead@example.org", &[Role::Se, Role::Leader], t0()?);
    add(&store, &team, &lead, "alice", t0()?).await?;
    let other = member("Other", "other@example.org", &[Role::Se], t0()?);
    add(&store, &team, &other, "alice", t0()?).await?;
    let err = promote(&store, &team, "other", Role::Leader, None, "alice", t0()?).await;
    assert!(
        err.err()
            .is_some_and(|e| e.to_string().contains("Lead already leads"))
    );
    set_paused(&store, "lead", true, "holiday", "alice", t0()?).await?;
    promote(&store, &team, "other", Role::Leader, None, "alice", t0()?).await?;
    let back = set_paused(&store, "lead", false, "", "alice", t0()?).await;
    assert!(
        back.err().is_some_and(|e| e.is::<Invalid>()),
        "two active leaders"
    );
    Ok(())
}

async fn the_welcome_pack_ticks_its_item(store: Store) -> Result<()> {
    let (dir, config, team) = team()?;
    let new = member(
        "Santa Claus",
        "presents@example.org",
        &[Role::Triage],
        t0()?,
    );
    add(&store, &team, &new, "alice", t0()?).await?;
    let outbox = Outbox::new(&config)?;
    let templates = Templates::load(None)?;
    let to: lettre::message::Mailbox = "Santa Claus <Presents@example.org>".parse()?;
    let ctx = crate::templates::Welcome::new(
        crate::templates::Role::Triage,
        &to,
        &config.disputes.claimant,
        &config.outbox.from,
    );
    let mail = templates.render(&ctx)?;
    let role = crate::templates::Role::Triage;
    let w = queue_welcome(&store, &outbox, &mail, &to, role, t0()?).await?;
    assert_eq!(w.member.as_deref(), Some("Santa Claus"));
    let ticked: Vec<String> = w.ticked.iter().map(ToString::to_string).collect();
    assert!(
        ticked.contains(&"welcome/welcome-pack".to_owned()),
        "{ticked:?}"
    );
    assert!(
        !ticked.iter().any(|t| t.starts_with("start/")),
        "{ticked:?}"
    );
    let stranger: lettre::message::Mailbox = "x@example.org".parse()?;
    let w = queue_welcome(&store, &outbox, &mail, &stranger, role, t0()?).await?;
    assert!(w.member.is_none() && w.ticked.is_empty());
    drop(dir);
    Ok(())
}

fn reply(to_ping: &str, id: &str, auto: Option<&str>) -> MessageInfo {
    MessageInfo {
        message_id: Some(id.to_owned()),
        in_reply_to: vec![to_ping.trim_matches(['<', '>']).to_owned()],
        from: Some("presents@example.org".to_owned()),
        auto_submitted: auto.map(str::to_owned),
        ..MessageInfo::default()
    }
}

async fn a_reply_to_a_ping_marks_the_member_seen(store: Store) -> Result<()> {
    let (_dir, config, team) = team()?;
    for (name, addr) in [
        ("Santa Claus", "presents@example.org"),
        ("Nick", "nick@example.org"),
    ] {
        add(
            &store,
            &team,
            &member(name, addr, &[Role::Triage], t0()?),
            "a",
            t0()?,
        )
        .await?;
    }
    set_paused(&store, "nick", true, "", "a", t0()?).await?;
    let outbox = Outbox::new(&config)?;
    let templates = Templates::load(None)?;
    let settings = Settings::new(&config)?;
    let leader = config.disputes.claimant.clone();
    let pinged = ping(
        &store,
        &outbox,
        &templates,
        &settings,
        None,
        &leader,
        "a",
        t0()?,
    )
    .await?;
    assert_eq!(pinged.len(), 1, "only active members are pinged");
    let id = &pinged[0].message_id;
    let seen = days_later(2)?;
    let mut tx = store.begin().await?;
    let vacation = reply(id, "auto@example.org", Some("auto-replied"));
    assert_eq!(note_ping_replies(&mut tx, [&vacation], seen).await?, 0);
    let other = reply("<unrelated@example.org>", "r0@example.org", None);
    let human = reply(id, "r1@example.org", None);
    assert_eq!(note_ping_replies(&mut tx, [&other, &human], seen).await?, 1);
    assert_eq!(
        note_ping_replies(&mut tx, [&human], seen).await?,
        0,
        "counted once"
    );
    tx.commit().await?;
    let santa = find(&store, "santa").await?;
    assert_eq!(santa.last_seen_ms, seen.timestamp_millis());
    let health = health(&store, &settings, days_later(30)?).await?;
    assert!(health.unresponsive.is_empty(), "{:?}", health.unresponsive);
    Ok(())
}

async fn silence_past_the_grace_is_unresponsive_and_thins_the_role(store: Store) -> Result<()> {
    let (_dir, config, team) = team()?;
    for (name, addr) in [("A", "a@example.org"), ("B", "b@example.org")] {
        add(
            &store,
            &team,
            &member(name, addr, &[Role::Triage], t0()?),
            "x",
            t0()?,
        )
        .await?;
    }
    let settings = Settings::new(&config)?;
    let before = health(&store, &settings, t0()?).await?;
    let triage = |h: &Health| h.roles.iter().find(|r| r.role == Role::Triage).cloned();
    assert!(triage(&before).is_some_and(|r| r.responsive == 2 && !r.thin()));
    let outbox = Outbox::new(&config)?;
    let templates = Templates::load(None)?;
    let leader = config.disputes.claimant.clone();
    let pinged = ping(
        &store,
        &outbox,
        &templates,
        &settings,
        None,
        &leader,
        "x",
        t0()?,
    )
    .await?;
    let mut tx = store.begin().await?;
    note_ping_replies(&mut tx, [&reply(&pinged[0].message_id, "r@x", None)], t0()?).await?;
    tx.commit().await?;
    let within = health(&store, &settings, days_later(13)?).await?;
    assert!(within.unresponsive.is_empty());
    let past = health(&store, &settings, days_later(15)?).await?;
    let names: Vec<&str> = past.unresponsive.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["B"]);
    assert!(triage(&past).is_some_and(|r| r.active == 2 && r.responsive == 1 && r.thin()));
    assert!(past.warnings().iter().any(|w| w.starts_with("role triage")));
    let gauges = past.gauges();
    assert_eq!(gauges.unresponsive, 1);
    assert!(gauges.roles.iter().any(|r| r.role == "triage" && r.thin));
    Ok(())
}

async fn retiring_closes_checklists_and_overdue_items_show(store: Store) -> Result<()> {
    let (_dir, config, team) = team()?;
    add(
        &store,
        &team,
        &member("A", "a@example.org", &[Role::Triage], t0()?),
        "x",
        t0()?,
    )
    .await?;
    let settings = Settings::new(&config)?;
    let h = health(&store, &settings, days_later(4)?).await?;
    let overdue: Vec<String> = h
        .overdue
        .iter()
        .map(|o| format!("{}/{}", o.checklist, o.item))
        .collect();
    assert_eq!(
        overdue,
        ["welcome/welcome-pack"],
        "due 3 days after opening"
    );
    let err = tick(&store, "a", Some("nosuch"), "", "x", t0()?)
        .await
        .err();
    let unknown = err
        .ok_or_else(|| anyhow!("ticked nosuch"))?
        .downcast::<Unknown>();
    assert!(unknown.is_ok_and(|u| u.valid.contains(&"start/mailbox-rights".to_owned())));
    let view = tick(
        &store,
        "a",
        Some("welcome-pack"),
        "sent by hand",
        "x",
        t0()?,
    )
    .await?;
    assert_eq!(view.outcome.map(|o| o.ticked.len()), Some(1));
    let r = retire(&store, "a", "moved on", "x", t0()?).await?;
    assert!(r.closed > 10, "{}", r.closed);
    let h = health(&store, &settings, days_later(40)?).await?;
    assert!(h.overdue.is_empty() && h.active == 0);
    let again = retire(&store, "a", "twice", "x", t0()?).await;
    assert!(again.err().is_some_and(|e| e.is::<Invalid>()));
    Ok(())
}

async fn an_import_is_all_or_nothing(store: Store) -> Result<()> {
    let text = "name,address,role,tz,since\nA,a@example.org,se leader,Europe/Berlin,2025-03-01\n\
                B,b@example.org,triage,,\nC,A@example.org,triage,,\n";
    let rows = parse_csv("roster.csv", text)?;
    let err = import(&store, &rows, "roster.csv", "x", t0()?).await.err();
    let err = err.ok_or_else(|| anyhow!("imported a duplicate"))?;
    assert!(err.to_string().starts_with("roster.csv:4: "), "{err:#}");
    assert!(active_members(&store).await?.is_empty(), "nothing imported");
    let added = import(&store, &rows[..2], "roster.csv", "x", t0()?).await?;
    assert_eq!(added.len(), 2);
    let a = find(&store, "a").await?;
    assert!(a.has(Role::Leader) && a.role == Role::Se && date(a.role_since_ms) == "2025-03-01");
    let mut tx = store.begin().await?;
    assert!(
        Roster::load_in(&mut tx, None).await?.items.is_empty(),
        "no checklists"
    );
    Ok(())
}

backend_tests!(
    se_needs_the_abc_and_board_approval_then_opens_new_se,
    an_override_is_recorded_with_its_reason,
    the_triage_term_counts_and_bad_moves_are_refused,
    one_active_leader_at_a_time,
    the_welcome_pack_ticks_its_item,
    a_reply_to_a_ping_marks_the_member_seen,
    silence_past_the_grace_is_unresponsive_and_thins_the_role,
    retiring_closes_checklists_and_overdue_items_show,
    an_import_is_all_or_nothing,
);

#[test]
fn the_shipped_files_hold_what_the_rights_and_smime_work_tick() -> Result<()> {
    let (_dir, _config, team) = team()?;
    let ids: Vec<String> = team
        .checklists
        .iter()
        .flat_map(|c| c.items.iter().map(move |i| format!("{}/{}", c.id, i.id)))
        .collect();
    for id in [
        "start/mailbox-rights",
        "start/list-rights",
        "start/smime-cert",
        "welcome/welcome-pack",
    ] {
        assert!(ids.contains(&id.to_owned()), "{id} missing from {ids:?}");
    }
    let titles: Vec<&str> = team.checklists.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["Welcome", "Start", "New SE"]);
    assert_eq!(Fact::IMAP_USER.name(), "imap-user");
    assert_eq!(Fact::SMIME_CERT.name(), "smime-cert");
    assert_eq!(team.requires(Role::Triage).len(), 4);
    assert_eq!(team.requires(Role::Se).len(), 7);
    Ok(())
}

#[test]
fn a_bad_file_is_reported_with_file_and_line() -> Result<()> {
    let src = |text: &str| defs::Source {
        label: "roles.toml".to_owned(),
        text: text.to_owned(),
    };
    let mut errors = Vec::new();
    defs::roles(
        &src(
            "[triage]\nrequires = [\n  { fact = \"sp\" },\n  { fact = \"asurer\" },\n]\n[boss]\nrequires = []\n",
        ),
        &mut errors,
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("roles.toml:6: unknown role \"boss\""),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("roles.toml:4: unknown fact \"asurer\""),
        "{errors:?}"
    );
    let mut errors = Vec::new();
    defs::roles(&src("[se]\nrequires = [ { fact = \"sp\" ]\n"), &mut errors);
    assert!(
        errors
            .first()
            .is_some_and(|e| e.starts_with("roles.toml:2: ")),
        "{errors:?}"
    );
    let mut errors = Vec::new();
    let lists = "[[checklist]]\nid = \"w\"\ntitle = \"W\"\nrole = \"triage\"\n[[checklist.item]]\n\
                 id = \"a\"\ntext = \"A\"\naction = \"coffee\"\nfacts = [\"sp\", \"nope\"]\n";
    defs::checklists(&src(lists), &mut errors);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("roles.toml:8: unknown action \"coffee\""))
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("roles.toml:9: unknown fact \"nope\""))
    );
    Ok(())
}

#[test]
fn facts_check_their_values() {
    let fact = |n: &str| n.parse::<Fact>();
    assert!(fact("Triage-2").is_ok_and(|f| f.name() == "triage-2"));
    assert!(fact("fiddle").is_err());
    let abc = fact("abc").unwrap_or(Fact::ABC);
    assert_eq!(
        abc.check_value("A20071225.1  Passed").ok().as_deref(),
        Some("a20071225.1 passed")
    );
    assert_eq!(abc.check_value("").ok().as_deref(), Some("pending"));
    assert!(
        abc.check_value("passed").is_err(),
        "a result needs its case number"
    );
    assert!(
        abc.check_value("a20071345.1 passed").is_err(),
        "no 45th of the 13th month"
    );
    assert!(abc.holds("a20071225.1 passed") && !abc.holds("a20071225.1 pending"));
    assert!(fact("board-approval").is_ok_and(|f| f.check_value("1 Dec").is_err()));
    assert!(fact("assurer").is_ok_and(|f| f.check_value("yes").is_err()));
    assert!(fact("imap-user").is_ok_and(|f| f.check_value("").is_err()));
}

#[test]
fn the_import_file_names_the_line_of_a_problem() {
    let bad = parse_csv(
        "r.csv",
        "name,address,role\nA,a@example.org,triage\nB,b@example.org,boss\n",
    );
    assert!(
        bad.err()
            .is_some_and(|e| e.0.starts_with("r.csv:3: unknown role"))
    );
    let quoted = parse_csv(
        "r.csv",
        "name,address,role,alias\n\"Claus, Santa\",s@example.org,triage,\"St \"\"Nick\"\"\"\n",
    );
    let rows = quoted.unwrap_or_default();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].1.name.as_str(), rows[0].1.alias.as_str()),
        ("Claus, Santa", "St \"Nick\"")
    );
    assert!(parse_csv("r.csv", "name,mail,role\n").is_err_and(|e| e.0.contains("unknown column")));
}
