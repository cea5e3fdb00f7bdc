//! Which tickets a simulation replays: explicit ids, a date range, a seeded random sample, or by
//! default the most recent resolved tickets. Problems (unknown ids, tickets without an agent
//! reply) are collected for the report, never fatal.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::model::ReplayIssues;
use crate::domain::Ticket;

#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    #[error("{path}: {problem}")]
    IdsFile { path: String, problem: String },
    #[error("invalid date {value:?}: use YYYY-MM-DD or an RFC 3339 instant")]
    Date { value: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReplaySelection {
    Ids(Vec<i64>),
    /// `from` inclusive, `to` exclusive.
    DateRange {
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
    },
    Sample {
        size: usize,
        seed: u64,
    },
    MostRecent(usize),
}

impl ReplaySelection {
    pub fn describe(&self) -> String {
        match self {
            Self::Ids(ids) => format!("{} ticket ids from a file", ids.len()),
            Self::DateRange { from, to } => match to {
                Some(to) => format!(
                    "tickets created from {} to {}",
                    from.to_rfc3339(),
                    to.to_rfc3339()
                ),
                None => format!("tickets created from {}", from.to_rfc3339()),
            },
            Self::Sample { size, seed } => {
                format!("random sample of {size} resolved tickets (seed {seed})")
            }
            Self::MostRecent(count) => {
                format!("most recent {count} resolved tickets by created_at")
            }
        }
    }

    pub fn seed(&self) -> Option<u64> {
        match self {
            Self::Sample { seed, .. } => Some(*seed),
            _ => None,
        }
    }
}

/// Ids, one per line (or separated by commas/spaces); `#` starts a comment.
pub fn read_ids_file(path: &Path) -> Result<Vec<i64>, SelectionError> {
    let error = |problem: String| SelectionError::IdsFile {
        path: path.display().to_string(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let mut ids = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("");
        for token in content
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let id = token
                .parse::<i64>()
                .map_err(|_| error(format!("line {}: {token:?} is not a ticket id", number + 1)))?;
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `YYYY-MM-DD` (midnight UTC; `end_of_day` gives the next midnight) or RFC 3339.
pub fn parse_date(value: &str, end_of_day: bool) -> Result<DateTime<Utc>, SelectionError> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(value) {
        return Ok(instant.to_utc());
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| SelectionError::Date {
        value: value.to_string(),
    })?;
    let date = if end_of_day {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc())
}

/// The minimum we keep about every ticket to choose the replay set without holding texts.
#[derive(Debug, Clone)]
pub struct TicketIndexEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub resolved: bool,
    pub has_agent_reply: bool,
}

impl TicketIndexEntry {
    pub fn of(ticket: &Ticket) -> Self {
        Self {
            id: ticket.id,
            created_at: ticket.created_at,
            resolved: ticket.status().is_resolved() && !ticket.spam && !ticket.deleted,
            has_agent_reply: ticket.public_agent_replies().next().is_some(),
        }
    }
}

/// Ticket ids to replay, oldest first, and the problems found on the way.
pub fn select_tickets(
    entries: &[TicketIndexEntry],
    selection: &ReplaySelection,
) -> (Vec<i64>, ReplayIssues) {
    let mut issues = ReplayIssues::default();
    let mut chosen: Vec<&TicketIndexEntry> = match selection {
        ReplaySelection::Ids(ids) => {
            let wanted: HashSet<i64> = ids.iter().copied().collect();
            let present: HashSet<i64> = entries.iter().map(|e| e.id).collect();
            let mut missing: Vec<i64> = wanted.difference(&present).copied().collect();
            missing.sort_unstable();
            issues.ids_not_found = missing;
            entries.iter().filter(|e| wanted.contains(&e.id)).collect()
        }
        ReplaySelection::DateRange { from, to } => entries
            .iter()
            .filter(|e| e.created_at >= *from && to.is_none_or(|to| e.created_at < to))
            .collect(),
        ReplaySelection::Sample { size, seed } => {
            let mut resolved: Vec<&TicketIndexEntry> =
                entries.iter().filter(|e| e.resolved).collect();
            // Sort first so the sample depends only on the data, not on file order.
            resolved.sort_by_key(|e| (e.created_at, e.id));
            let mut rng = rand::rngs::StdRng::seed_from_u64(*seed);
            resolved.shuffle(&mut rng);
            resolved.truncate(*size);
            resolved
        }
        ReplaySelection::MostRecent(count) => {
            let mut resolved: Vec<&TicketIndexEntry> =
                entries.iter().filter(|e| e.resolved).collect();
            resolved.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
            resolved.truncate(*count);
            resolved
        }
    };
    chosen.sort_by_key(|e| (e.created_at, e.id));
    let mut replay = Vec::with_capacity(chosen.len());
    for entry in chosen {
        if !entry.resolved {
            issues.not_resolved.push(entry.id);
        }
        if entry.has_agent_reply {
            replay.push(entry.id);
        } else {
            issues.no_agent_reply.push(entry.id);
        }
    }
    issues.empty_selection = replay.is_empty();
    (replay, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, day: u32, resolved: bool, replied: bool) -> TicketIndexEntry {
        TicketIndexEntry {
            id,
            created_at: parse_date(&format!("2025-01-{day:02}"), false).unwrap(),
            resolved,
            has_agent_reply: replied,
        }
    }

    fn entries() -> Vec<TicketIndexEntry> {
        vec![
            entry(1, 1, true, true),
            entry(2, 2, true, false),
            entry(3, 3, false, true),
            entry(4, 4, true, true),
        ]
    }

    #[test]
    fn most_recent_takes_resolved_tickets_and_reports_those_without_reply() {
        let (ids, issues) = select_tickets(&entries(), &ReplaySelection::MostRecent(2));
        assert_eq!(ids, vec![4]);
        assert_eq!(issues.no_agent_reply, vec![2]);
        assert!(!issues.empty_selection);
    }

    #[test]
    fn unknown_ids_are_reported_not_fatal() {
        let (ids, issues) = select_tickets(&entries(), &ReplaySelection::Ids(vec![4, 1, 99]));
        assert_eq!(ids, vec![1, 4]);
        assert_eq!(issues.ids_not_found, vec![99]);
    }

    #[test]
    fn date_range_is_inclusive_exclusive_and_flags_unresolved() {
        let selection = ReplaySelection::DateRange {
            from: parse_date("2025-01-02", false).unwrap(),
            to: Some(parse_date("2025-01-03", true).unwrap()),
        };
        let (ids, issues) = select_tickets(&entries(), &selection);
        assert_eq!(ids, vec![3]);
        assert_eq!(issues.not_resolved, vec![3]);
        assert_eq!(issues.no_agent_reply, vec![2]);
    }

    #[test]
    fn samples_are_deterministic_per_seed() {
        let many: Vec<_> = (1..=50)
            .map(|i| entry(i, (i % 28 + 1) as u32, true, true))
            .collect();
        let a = select_tickets(&many, &ReplaySelection::Sample { size: 10, seed: 7 }).0;
        let b = select_tickets(&many, &ReplaySelection::Sample { size: 10, seed: 7 }).0;
        let c = select_tickets(&many, &ReplaySelection::Sample { size: 10, seed: 8 }).0;
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 10);
    }

    #[test]
    fn an_empty_selection_is_flagged() {
        let selection = ReplaySelection::DateRange {
            from: parse_date("2030-01-01", false).unwrap(),
            to: None,
        };
        let (ids, issues) = select_tickets(&entries(), &selection);
        assert!(ids.is_empty());
        assert!(issues.empty_selection);
    }

    #[test]
    fn ids_files_accept_lines_commas_and_comments_and_name_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.txt");
        std::fs::write(&path, "1, 2\n# comment\n3 4\n").unwrap();
        assert_eq!(read_ids_file(&path).unwrap(), vec![1, 2, 3, 4]);
        std::fs::write(&path, "1\nabc\n").unwrap();
        let error = read_ids_file(&path).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
    }
}
