//! What the Freshdesk sync has committed: the cursor (newest `updated_at` whose tickets are all
//! in the store), the version of every ticket, article and canned response it processed, which
//! tickets live in the archive and which ids were probed there and found empty, and when the
//! knowledge base was last walked. Saved atomically after each committed batch, so a killed sync
//! resumes from the cursor, skips every ticket whose version it already holds, and never pays
//! twice for an archive probe.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::StateError;

/// An article as last seen in the knowledge base: enough to resolve links in answers without
/// walking the knowledge base again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArticleVersion {
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub url: Option<String>,
    pub published: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncState {
    /// Base URL of the account this data folder was synced from.
    #[serde(default)]
    pub account: Option<String>,
    /// Every ticket listed up to and including this `updated_at` is committed.
    #[serde(default)]
    pub cursor: Option<DateTime<Utc>>,
    /// Ticket id -> `updated_at` of the version processed (indexed as a case or found ineligible).
    #[serde(default)]
    pub tickets: BTreeMap<i64, DateTime<Utc>>,
    /// Article id -> the version indexed from the knowledge base.
    #[serde(default)]
    pub articles: BTreeMap<i64, ArticleVersion>,
    /// Canned response id -> `updated_at` of the version indexed.
    #[serde(default)]
    pub canned_responses: BTreeMap<i64, DateTime<Utc>>,
    /// Archived ticket id -> when it was last read at `/tickets/archived/{id}`. Archived tickets
    /// never change (a customer's reply opens a new ticket), so they are re-read only rarely.
    #[serde(default)]
    pub archived: BTreeMap<i64, DateTime<Utc>>,
    /// Ids absent from the list that the archive does not have either (purged, or never
    /// created): not probed again.
    #[serde(default)]
    pub probed_absent: BTreeSet<i64>,
    /// Set when the account's plan has no archive (403 `require_feature`): no probes at all.
    #[serde(default)]
    pub archive_unavailable: bool,
    #[serde(default)]
    pub articles_walked_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_full_reconcile: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_sync_finished: Option<DateTime<Utc>>,
    #[serde(skip)]
    path: PathBuf,
}

impl SyncState {
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let mut state = if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
                path: path.display().to_string(),
                source,
            })?;
            serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                path: path.display().to_string(),
                problem: e.to_string(),
            })?
        } else {
            Self::default()
        };
        state.path = path.to_path_buf();
        Ok(state)
    }

    /// Written atomically: a crash leaves either the old or the new state, never half of one.
    pub fn save(&self) -> Result<(), StateError> {
        super::state::write_json_atomically(&self.path, self)
    }

    /// Whether this exact version of the ticket was already processed.
    pub fn holds(&self, ticket_id: i64, updated_at: DateTime<Utc>) -> bool {
        self.tickets.get(&ticket_id) == Some(&updated_at)
    }

    /// Records a committed run of tickets (in list order) and advances the cursor.
    pub fn commit_tickets(&mut self, committed: &[(i64, DateTime<Utc>)]) {
        for &(id, updated_at) in committed {
            self.tickets.insert(id, updated_at);
            // Listed again (restored from the trash): no longer an empty id.
            self.probed_absent.remove(&id);
            self.cursor = Some(self.cursor.map_or(updated_at, |c| c.max(updated_at)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn commits_advance_the_cursor_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.json");
        let at = |minute| Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap();
        let mut state = SyncState::load(&path).unwrap();
        assert_eq!(state.cursor, None);
        state.commit_tickets(&[(7, at(1)), (3, at(5)), (9, at(5))]);
        state.save().unwrap();

        let reloaded = SyncState::load(&path).unwrap();
        assert_eq!(reloaded.cursor, Some(at(5)));
        assert!(reloaded.holds(3, at(5)));
        assert!(!reloaded.holds(3, at(6)), "a newer version is not held");
        assert!(!reloaded.holds(4, at(5)));

        std::fs::write(&path, b"{\"tickets\": 5").unwrap();
        let error = SyncState::load(&path).unwrap_err().to_string();
        assert!(error.contains("corrupt"), "{error}");
    }
}
