//! Finding archived tickets. Freshdesk moves a ticket closed and inactive for about 120 days to
//! an archive that no list shows: it is read only at `/tickets/archived/{id}`. Ticket ids are
//! per-account sequential, so the archive's tickets hide in the gaps of the ids the list shows.
//! Each gap is probed once (1 credit); what the archive does not have either is remembered, so a
//! later run never pays for it again.
//!
//! A full reconcile also uses the archive before removing anything: a ticket the list no longer
//! shows is removed only when it is in the trash, marked spam, or gone from the archive too.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::helpdesk::RemovedTickets;
use crate::ingest::sync_state::SyncState;

/// One id to read at the archive, and what its absence there means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub ticket_id: i64,
    /// The store holds this ticket (the list stopped showing it): absent from the archive too
    /// means it was deleted for good, and its case is removed.
    pub held: bool,
}

/// What the archive work of one sync found and cost.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ArchiveSummary {
    /// Ids below the highest known id that neither the list, the trash, the spam folder nor an
    /// earlier probe accounts for.
    pub gaps: usize,
    /// Held tickets the list no longer shows (full reconcile only).
    pub unlisted_held: usize,
    /// Of those, known archived and read recently enough to keep without a call.
    pub unlisted_kept_as_archived: usize,
    /// Unlisted held tickets in the trash or spam: removed.
    pub unlisted_removed_as_deleted_or_spam: usize,
    /// `/tickets/archived/{id}` reads (found or not).
    pub probes: usize,
    pub archived_found: usize,
    pub absent: usize,
    /// Held tickets that the archive does not have either: removed.
    pub removed_as_purged: usize,
    /// Why the archive was not read, when it was not.
    pub skipped: Option<String>,
}

/// Probes for one run: the gaps in the id sequence (first runs, mostly) and, on a full
/// reconcile, the held tickets the list no longer shows. Returns the probes and the held ids to
/// remove without a call (trash, spam).
pub fn plan_probes(
    state: &SyncState,
    listed: &BTreeSet<i64>,
    removed: &RemovedTickets,
    full_reconcile: bool,
    recheck_after: chrono::Duration,
    now: DateTime<Utc>,
    summary: &mut ArchiveSummary,
) -> (Vec<Probe>, Vec<i64>) {
    let highest = listed
        .iter()
        .chain(state.tickets.keys())
        .chain(state.archived.keys())
        .max()
        .copied()
        .unwrap_or(0);
    let known = |id: &i64| {
        listed.contains(id)
            || state.tickets.contains_key(id)
            || state.archived.contains_key(id)
            || state.probed_absent.contains(id)
            || removed.contains(*id)
    };
    let mut probes: Vec<Probe> = (1..=highest)
        .filter(|id| !known(id))
        .map(|ticket_id| Probe {
            ticket_id,
            held: false,
        })
        .collect();
    summary.gaps = probes.len();
    let mut remove_now = Vec::new();
    if full_reconcile {
        for &id in state.tickets.keys().filter(|id| !listed.contains(id)) {
            summary.unlisted_held += 1;
            if removed.contains(id) {
                summary.unlisted_removed_as_deleted_or_spam += 1;
                remove_now.push(id);
            } else if state
                .archived
                .get(&id)
                .is_some_and(|read_at| now - *read_at < recheck_after)
            {
                summary.unlisted_kept_as_archived += 1;
            } else {
                probes.push(Probe {
                    ticket_id: id,
                    held: true,
                });
            }
        }
    }
    probes.sort_by_key(|p| p.ticket_id);
    (probes, remove_now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, day, 0, 0, 0).unwrap()
    }

    #[test]
    fn gaps_are_probed_once_and_unlisted_tickets_are_checked_before_removal() {
        let mut state = SyncState::default();
        // Held from an earlier run: 1, 2 (listed then) and 9 (archived, read on day 1).
        state.tickets.insert(1, at(1));
        state.tickets.insert(2, at(1));
        state.tickets.insert(9, at(1));
        state.archived.insert(9, at(1));
        state.probed_absent.insert(4);
        let listed: BTreeSet<i64> = [1, 3, 10].into_iter().collect();
        let removed = RemovedTickets {
            deleted: [5].into_iter().collect(),
            spam: [2].into_iter().collect(),
        };
        let mut summary = ArchiveSummary::default();
        let (probes, remove_now) = plan_probes(
            &state,
            &listed,
            &removed,
            false,
            chrono::Duration::days(30),
            at(10),
            &mut summary,
        );
        // 4 was probed before, 5 is in the trash, 2 is spam: only 6, 7 and 8 are unknown.
        let ids: Vec<i64> = probes.iter().map(|p| p.ticket_id).collect();
        assert_eq!(ids, vec![6, 7, 8]);
        assert!(probes.iter().all(|p| !p.held));
        assert!(remove_now.is_empty(), "an incremental sync removes nothing");
        assert_eq!(summary.gaps, 3);

        // A full reconcile: 2 (spam) goes without a call, 9 (archived recently) stays without a
        // call, and once its last read is old, 9 is read again before anything is decided.
        let mut summary = ArchiveSummary::default();
        let (probes, remove_now) = plan_probes(
            &state,
            &listed,
            &removed,
            true,
            chrono::Duration::days(30),
            at(10),
            &mut summary,
        );
        assert_eq!(remove_now, vec![2]);
        assert!(!probes.iter().any(|p| p.ticket_id == 9));
        assert_eq!(
            (summary.unlisted_held, summary.unlisted_kept_as_archived),
            (2, 1)
        );
        let (probes, _) = plan_probes(
            &state,
            &listed,
            &removed,
            true,
            chrono::Duration::days(5),
            at(10),
            &mut ArchiveSummary::default(),
        );
        assert!(probes.contains(&Probe {
            ticket_id: 9,
            held: true
        }));
    }
}
