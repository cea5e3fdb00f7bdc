//! `deskdraft draft`: a draft for one ticket, from a bundle (replayed as of its own creation by
//! default) or from a ticket JSON file (drafted as of now).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::app::Components;
use crate::config::Config;
use crate::domain::Ticket;
use crate::draft::thread::awaiting_message;
use crate::draft::{Draft, DraftKind, DraftRequest};
use crate::errors::CommandError;
use crate::helpdesk::bundle::Bundle;

#[derive(Debug, Clone)]
pub enum TicketSource {
    Bundle { dir: PathBuf, ticket_id: i64 },
    JsonFiles(Vec<PathBuf>),
}

/// When the knowledge cut-off is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AsOf {
    /// Bundle tickets: the ticket's creation; JSON tickets: now (no cut-off).
    Default,
    /// Use everything in the store.
    Now,
    At(DateTime<Utc>),
}

pub fn load_ticket_from_bundle(
    dir: &std::path::Path,
    ticket_id: i64,
) -> Result<Ticket, CommandError> {
    let bundle = Bundle::open(dir)?;
    for ticket in bundle.tickets()? {
        let ticket = ticket?;
        if ticket.id == ticket_id {
            return Ok(ticket);
        }
    }
    Err(CommandError::BadInput(format!(
        "ticket {ticket_id} is not in the bundle at {}",
        dir.display()
    )))
}

pub fn load_ticket_json(path: &std::path::Path) -> Result<Ticket, CommandError> {
    let text = std::fs::read_to_string(path).map_err(|source| CommandError::Io {
        context: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text)
        .map_err(|e| CommandError::BadInput(format!("{}: not a ticket: {e}", path.display())))
}

/// Drafts for every ticket the source names, in order.
pub async fn run_draft(
    config: Config,
    source: TicketSource,
    as_of: AsOf,
) -> Result<Vec<Draft>, CommandError> {
    let (tickets, replay) = match &source {
        TicketSource::Bundle { dir, ticket_id } => {
            (vec![load_ticket_from_bundle(dir, *ticket_id)?], true)
        }
        TicketSource::JsonFiles(paths) => (
            paths
                .iter()
                .map(|p| load_ticket_json(p))
                .collect::<Result<Vec<_>, _>>()?,
            false,
        ),
    };
    let components = Components::open(config)?;
    let drafter = components.drafter().await?;
    let mut drafts = Vec::with_capacity(tickets.len());
    for ticket in &tickets {
        let cutoff = match as_of {
            AsOf::Default if replay => Some(ticket.created_at),
            AsOf::Default | AsOf::Now => None,
            AsOf::At(at) => Some(at),
        };
        // A live ticket is drafted for the customer message awaiting an answer (a follow-up is
        // drafted from the whole thread); a replayed one as the agent first saw it.
        let request = match awaiting_message(ticket) {
            Some(message) if !replay && cutoff.is_none() => {
                DraftRequest::for_message(ticket, message)
            }
            _ => DraftRequest::from_ticket(ticket, cutoff),
        };
        drafts.push(drafter.draft(&request).await?);
    }
    Ok(drafts)
}

/// Human-readable rendering for the terminal.
pub fn format_draft_for_terminal(draft: &Draft) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "=== Ticket {} — {} (confidence {:.2}) ===\n",
        draft.ticket_id,
        match (draft.kind, draft.llm_fallback.is_some()) {
            (DraftKind::RetrievalOnly, false) => "draft (retrieval-only)",
            (DraftKind::RetrievalOnly, true) => "draft (retrieval-only fallback: the model failed)",
            (DraftKind::Generated, _) => "draft (written by the language model)",
            (DraftKind::Abstained, _) => "no draft",
        },
        draft.confidence
    ));
    match draft.kind {
        DraftKind::Abstained => out.push_str(draft.abstain_reason.as_deref().unwrap_or("")),
        _ => out.push_str(&draft.text),
    }
    out.push('\n');
    if !draft.flags.is_empty() {
        out.push_str("\nCheck before sending:\n");
        for flag in &draft.flags {
            out.push_str(&format!("  ! {flag}\n"));
        }
    }
    if !draft.sources.is_empty() {
        out.push_str("\nSources:\n");
        for source in &draft.sources {
            out.push_str(&format!(
                "  - [{}] {} (similarity {:.2}, {}){}\n",
                source.key,
                source.title,
                source.similarity,
                crate::draft::render::describe_age(source.age_days),
                source
                    .url
                    .as_deref()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}
