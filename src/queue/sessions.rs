//! Review-page sessions, kept server-side so that signing out ends a session for good and every
//! session expires whatever its cookie says. Only a hash of the cookie's value is stored: a copy
//! of the database opens no session. Each session has its own CSRF token.

use std::time::Duration;

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::sql::params;
use super::{JobQueue, QueueError, now_ms};

/// A signed-in reviewer's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The value of the session cookie (secret; only its hash is stored).
    pub cookie: String,
    /// The token forms and cookie-authenticated API calls must carry.
    pub csrf: String,
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

fn stored_id(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

impl JobQueue {
    /// Starts a session valid for `lifetime`.
    pub async fn create_session(&self, lifetime: Duration) -> Result<Session, QueueError> {
        let session = Session {
            cookie: random_hex(32),
            csrf: random_hex(16),
        };
        let (id, csrf) = (stored_id(&session.cookie), session.csrf.clone());
        let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX / 2);
        self.with(move |db| {
            let now = now_ms();
            // Expired sessions go whenever a new one starts: the table stays small.
            db.execute("DELETE FROM sessions WHERE expires_at <= $1", params![now])?;
            db.execute(
                "INSERT INTO sessions (id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                params![id, csrf, now, now.saturating_add(lifetime_ms)],
            )?;
            Ok(())
        })
        .await?;
        Ok(session)
    }

    /// The live session a cookie value names, if any (unknown, signed out and expired ones are
    /// all `None`).
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, QueueError> {
        let (id, cookie) = (stored_id(cookie), cookie.to_string());
        self.with(move |db| {
            db.query_opt(
                "SELECT csrf FROM sessions WHERE id=$1 AND expires_at > $2",
                params![id, now_ms()],
            )?
            .map(|row| {
                Ok(Session {
                    cookie,
                    csrf: row.text(0)?,
                })
            })
            .transpose()
        })
        .await
    }

    /// Ends a session (sign-out).
    pub async fn revoke_session(&self, cookie: &str) -> Result<(), QueueError> {
        let id = stored_id(cookie);
        self.with(move |db| {
            db.execute("DELETE FROM sessions WHERE id=$1", params![id])?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::testing::{TestQueue, on_both_backends};

    async fn sessions_expire_and_end_at_sign_out(test: TestQueue) {
        let queue = test.queue.clone();
        let session = queue.create_session(Duration::from_secs(60)).await.unwrap();
        assert_eq!(session.cookie.len(), 64);
        let found = queue.session(&session.cookie).await.unwrap().unwrap();
        assert_eq!(found.csrf, session.csrf);
        assert!(queue.session("forged").await.unwrap().is_none());
        queue.revoke_session(&session.cookie).await.unwrap();
        assert!(queue.session(&session.cookie).await.unwrap().is_none());

        let short = queue
            .create_session(Duration::from_millis(30))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            queue.session(&short.cookie).await.unwrap().is_none(),
            "expired"
        );
        let other = queue.create_session(Duration::from_secs(60)).await.unwrap();
        assert_ne!(other.cookie, session.cookie);
        assert_ne!(other.csrf, session.csrf);
    }
    on_both_backends!(sessions_expire_and_end_at_sign_out, 3);
}
