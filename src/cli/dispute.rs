//! `triaged dispute abc`: an Arbitrated Background Check filing, checked part by part by the disputes
//! records, rendered, and queued to the configured disputes address (or printed with `--dry-run`). A
//! candidate on the roster gets an ABC pending recorded with the filing.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{ConfigArg, Loaded, parse_role, report_queued, show};
use crate::records::disputes::{AbcRequest, DEFAULT_CLAUSE, MissingPart, abc_filing, queue_filing};
use crate::templates::{Role, parse_address};

#[derive(Debug, Args)]
pub(super) struct DisputeArgs {
    #[command(subcommand)]
    what: DisputeWhat,
}

#[derive(Debug, Subcommand)]
enum DisputeWhat {
    /// File a dispute asking Arbitration for an Arbitrated Background Check (sent to [disputes] address).
    Abc(AbcArgs),
}

#[derive(Debug, Args)]
struct AbcArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The candidate (the Respondent), "NAME <ADDR>".
    #[arg(long, value_name = "NAME <ADDR>")]
    candidate: Option<String>,
    /// The name the candidate is known by.
    #[arg(long)]
    alias: Option<String>,
    /// The candidate's current role (assurer, triage, se, cm).
    #[arg(long, value_parser = parse_role)]
    current_role: Option<Role>,
    /// The role the candidate is proposed for (se, cm, arbitrator).
    #[arg(long, value_parser = parse_role)]
    proposed_role: Option<Role>,
    /// The Claimant, "NAME <ADDR>" (default: [disputes] claimant).
    #[arg(long, value_name = "NAME <ADDR>")]
    claimant: Option<String>,
    /// The Security Policy clause the check is asked under.
    #[arg(long, default_value = DEFAULT_CLAUSE)]
    clause: String,
    /// Print the complete message (after signing) and queue nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(super) async fn dispute(args: DisputeArgs) -> Result<ExitCode> {
    let DisputeWhat::Abc(a) = args.what;
    let address =
        |field: &str, v: &Option<String>| v.as_deref().map(|t| parse_address(field, t)).transpose();
    let request = AbcRequest {
        candidate: address("--candidate", &a.candidate)?,
        alias: a.alias.clone(),
        current_role: a.current_role,
        proposed_role: a.proposed_role,
        claimant: address("--claimant", &a.claimant)?,
        clause: Some(a.clause.clone()),
    };
    let ctx = Loaded::load(&a.config).await?;
    let filing = abc_filing(&request, &ctx.config.disputes)?;
    let mut mail = ctx.templates.render(&filing)?;
    // The filing always goes to the configured disputes address, whatever the template's default.
    mail.to = vec![ctx.config.disputes.address.clone()];
    if a.dry_run {
        return show(&ctx.outbox.preview(&mail, ctx.clock.now())?);
    }
    let candidate = request.candidate.as_ref().ok_or_else(|| MissingPart {
        part: "Respondent (the candidate)".to_owned(),
    })?;
    let filed = queue_filing(
        &ctx.store,
        &ctx.outbox,
        &ctx.config.disputes,
        &mail,
        candidate,
        &super::os_user(),
        ctx.clock.now(),
    )
    .await?;
    let code = report_queued(&filed.queued);
    if let Some(name) = &filed.member {
        crate::outln!("recorded abc = pending for {name}");
    }
    Ok(code)
}
