//! Wakes this replica's idle workers the moment any replica queues a job on the shared
//! PostgreSQL queue (`LISTEN` / `NOTIFY`), instead of at their next poll.
//!
//! A webhook wakes the workers of the replica that took it in-process; without this, the other
//! replicas' idle workers saw the job only at their next half-second poll. The poll stays (it
//! also picks up retries coming due and expired leases) and is the fallback while the listening
//! connection is down. A notification is sent inside the transaction that queues the job, so it
//! arrives only once the job is committed, and never for a job rolled back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;

use super::sql::{Dialect, Sql};
use super::{Backend, JobQueue, QueueError, params};
use crate::retry::RetryPolicy;

/// The channel every replica listens on; the payload is empty (the job is in the table).
pub const JOBS_CHANNEL: &str = "deskdraft_jobs";

/// Announces a job queued in this transaction to every listening replica (PostgreSQL only: a
/// SQLite queue has one process, woken in-process).
pub(super) fn announce_queued_job(db: &mut dyn Sql) -> Result<(), QueueError> {
    if db.dialect() == Dialect::Postgres {
        db.execute("SELECT pg_notify($1, '')", params![JOBS_CHANNEL])?;
    }
    Ok(())
}

impl JobQueue {
    /// On PostgreSQL, a task that holds one connection listening on [`JOBS_CHANNEL`] and wakes
    /// one idle worker (`signal`) per queued job; it reconnects, with backoff, whenever that
    /// connection ends. `None` on SQLite.
    pub fn forward_job_notifications(
        &self,
        signal: Arc<Notify>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let Backend::Postgres {
            connection,
            listening,
            ..
        } = &self.backend
        else {
            return None;
        };
        let (connection, listening) = (Arc::clone(connection), Arc::clone(listening));
        Some(tokio::spawn(async move {
            let backoff = RetryPolicy::default();
            let mut failures: u32 = 0;
            loop {
                let ended = listen_once(&connection, &signal, &listening, &mut failures).await;
                listening.store(false, Ordering::Relaxed);
                match ended {
                    Ok(()) => tracing::warn!("job notifications: the listening connection ended"),
                    Err(error) => tracing::warn!(%error, "job notifications unavailable"),
                }
                failures = failures.saturating_add(1);
                // Workers still poll meanwhile: a lost notification costs at most one poll.
                let pause = backoff.backoff(failures).min(Duration::from_secs(30));
                tokio::time::sleep(pause).await;
            }
        }))
    }

    /// `Some(true)` while this process listens for jobs queued by other replicas, `Some(false)`
    /// while that connection is down (wake-ups wait for the poll), `None` on SQLite. For
    /// `/metrics`.
    pub fn listening_for_jobs(&self) -> Option<bool> {
        match &self.backend {
            Backend::Postgres { listening, .. } => Some(listening.load(Ordering::Relaxed)),
            Backend::Sqlite { .. } => None,
        }
    }
}

/// Connects, listens, and forwards notifications until the connection ends. `failures` is reset
/// once listening works, so a long-lived connection that drops reconnects quickly.
async fn listen_once(
    connection: &super::postgres_tls::QueueConnection,
    signal: &Notify,
    listening_flag: &AtomicBool,
    failures: &mut u32,
) -> Result<(), QueueError> {
    let tls = connection.tls_connector().map_err(super::postgres::error)?;
    let (client, mut socket) = connection
        .config
        .connect(tls)
        .await
        .map_err(super::postgres::postgres_error)?;
    // The connection's messages (notifications among them) arrive only while it is polled: the
    // stream below drives it, and `LISTEN` is answered through it too.
    let mut messages = futures::stream::poll_fn(move |cx| socket.poll_message(cx));
    let statement = format!("LISTEN {JOBS_CHANNEL}");
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            result = &mut listen, if !listening => {
                result.map_err(super::postgres::postgres_error)?;
                listening = true;
                listening_flag.store(true, Ordering::Relaxed);
                *failures = 0;
                tracing::debug!("listening for jobs queued by any replica");
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(_))) => signal.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(super::postgres::postgres_error(error)),
                None => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
#[path = "listen_tests.rs"]
mod tests;
