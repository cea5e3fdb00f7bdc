//! Supervision of serve's background loops (the queue workers and the reconciler). A loop that
//! panics is restarted after a pause and the restart is counted; `/healthz` is unhealthy while a
//! loop is down, so an orchestrator can replace a process whose loops keep dying instead of
//! leaving a server that answers webhooks but never drafts.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::JoinHandle;

/// Pause before a panicked loop starts again (a panic on every start must not spin).
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// The state of every supervised loop.
#[derive(Debug, Default)]
pub struct LoopHealth {
    loops: Mutex<BTreeMap<String, LoopState>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopState {
    pub running: bool,
    pub restarts: u64,
}

impl LoopHealth {
    fn update(&self, name: &str, change: impl FnOnce(&mut LoopState)) {
        let mut loops = self.loops.lock().unwrap_or_else(|e| e.into_inner());
        change(loops.entry(name.to_string()).or_default());
    }

    /// Every loop and its state, by name.
    pub fn snapshot(&self) -> BTreeMap<String, LoopState> {
        self.loops.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Names of the loops that are not running now.
    pub fn down(&self) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter(|(_, state)| !state.running)
            .map(|(name, _)| name)
            .collect()
    }

    /// Restarts of all loops since start.
    pub fn restarts(&self) -> u64 {
        self.snapshot().values().map(|s| s.restarts).sum()
    }
}

/// Runs the loop `make()` builds under `name`, rebuilding it whenever it panics, until it
/// returns normally (shutdown) or the handle is aborted.
pub fn supervise<F, Fut>(
    name: String,
    health: std::sync::Arc<LoopHealth>,
    make: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            health.update(&name, |s| s.running = true);
            let outcome = tokio::spawn(make()).await;
            match outcome {
                Ok(()) => {
                    // Returned normally: shutting down. It is not "down" for health's sake.
                    return;
                }
                Err(error) if error.is_panic() => {
                    health.update(&name, |s| {
                        s.running = false;
                        s.restarts += 1;
                    });
                    tracing::error!(
                        loop_name = %name,
                        "a serve loop panicked; restarting it in {RESTART_PAUSE:?}"
                    );
                    tokio::time::sleep(RESTART_PAUSE).await;
                }
                Err(_) => {
                    health.update(&name, |s| s.running = false);
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_panicking_loop_is_restarted_counted_and_reported_down_meanwhile() {
        let health = Arc::new(LoopHealth::default());
        let starts = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&starts);
        let handle = supervise("worker-1".into(), Arc::clone(&health), move || {
            let counted = Arc::clone(&counted);
            async move {
                let start = counted.fetch_add(1, Ordering::SeqCst);
                if start < 2 {
                    panic!("injected panic number {start}");
                }
                // The third start runs until shutdown.
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(health.down(), vec!["worker-1".to_string()], "restarting");
        tokio::time::sleep(RESTART_PAUSE * 2 + Duration::from_millis(500)).await;
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        assert!(health.down().is_empty(), "running again");
        assert_eq!(health.restarts(), 2);
        handle.abort();
    }
}
