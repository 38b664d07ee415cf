//! `triaged ticket show TICKET [--format text|json]`: a support ticket's thread, as `records::threads`
//! recorded it: each message's folder, when it was seen, who sent it, and which are the team's answers.
//! Exits 1 when no such ticket is recorded.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use super::{ConfigArg, UsageError, init_logging};
use crate::records::threads::{self, TicketView};
use crate::store::Store;

#[derive(Debug, Args)]
pub(super) struct TicketArgs {
    #[command(subcommand)]
    what: TicketWhat,
}

#[derive(Debug, Subcommand)]
enum TicketWhat {
    /// List a ticket's messages: folders, dates, who answered and when.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// The ticket number, sYYYYMMDD.NNN.
        ticket: String,
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShowFormat {
    Text,
    Json,
}

pub(super) async fn ticket(args: TicketArgs) -> Result<ExitCode> {
    match args.what {
        TicketWhat::Show {
            config,
            ticket,
            format,
        } => {
            if !threads::is_ticket_number(&ticket) {
                return Err(
                    UsageError(format!("{ticket:?} is not a ticket number sYYYYMMDD.NNN")).into(),
                );
            }
            let config = config.load()?;
            init_logging(config.log.format);
            let store = Store::open_current(&config.store.url).await?;
            let Some(view) = threads::show(&store, &ticket).await? else {
                eprintln!("triaged: no ticket {ticket} is recorded");
                return Ok(ExitCode::from(1));
            };
            match format {
                ShowFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&view)?),
                ShowFormat::Text => print_text(&view),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn print_text(view: &TicketView) {
    let by = if view.opened_by_team {
        " by the team"
    } else {
        ""
    };
    crate::outln!(
        "ticket {}  bucket {}  opened {}{by}",
        view.ticket,
        view.bucket,
        when(view.opened)
    );
    match view.first_reply {
        Some(at) => {
            let minutes = (at - view.opened).num_minutes();
            crate::outln!("first reply {} ({minutes} min after opening)", when(at));
        }
        None => crate::outln!("no reply yet"),
    }
    for m in &view.messages {
        let who = match (m.from_team, m.automatic) {
            (true, true) => "team, automatic",
            (true, false) => "team",
            (false, true) => "automatic",
            (false, false) => "",
        };
        let who = if who.is_empty() {
            String::new()
        } else {
            format!(" ({who})")
        };
        let sender = if m.sender.is_empty() {
            "(no From)"
        } else {
            &m.sender
        };
        crate::outln!(
            "  {}  {:<11}  {:<20}  {sender}{who}  <{}>",
            when(m.seen),
            m.origin,
            m.folder,
            m.message_id
        );
    }
}
