//! A team of spinning threads for the many short parallel loops of one query's forward pass.
//!
//! A single query's pass is 24 matrix products of a few hundred microseconds each. Splitting
//! each through rayon costs a wake-up of the sleeping worker per product (tens of microseconds
//! on a VM), and the gain mostly vanished. Here the helpers are started once per pass (as rayon
//! jobs, so they share the pool and never oversubscribe it) and spin between loops. The caller
//! claims parts too, so a helper that never gets a thread (a busy pool) only means less speed-up.

use std::sync::{Arc, Mutex};

use super::placement;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// The task of the current loop, with its lifetime erased (see [`Team::for_each`]).
#[derive(Clone, Copy)]
struct ErasedTask(*const (dyn Fn(usize) + Sync + 'static));
// SAFETY: the pointee is `Sync`, and it is only called while the loop that owns it is running.
unsafe impl Send for ErasedTask {}

/// Shared state of one team.
pub(super) struct Team {
    /// The current loop's generation and task.
    current: Mutex<(u64, Option<ErasedTask>)>,
    /// The generation (high 40 bits) and next unclaimed part (low 24 bits) of the current loop.
    claim: AtomicU64,
    parts: AtomicUsize,
    finished: AtomicUsize,
    stop: AtomicBool,
}

/// Parts an element-wise pass over rows is cut into (two per thread of a two-core machine).
const ROW_PARTS: usize = 4;

const INDEX_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

impl Team {
    fn new() -> Self {
        Self {
            current: Mutex::new((0, None)),
            claim: AtomicU64::new(0),
            parts: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        }
    }

    /// Runs `task(i)` for every `i < parts` on the caller and any helper that is free, and
    /// returns when all have finished.
    pub(super) fn for_each(&self, parts: usize, task: &(dyn Fn(usize) + Sync)) {
        assert!((parts as u64) <= INDEX_MASK, "too many parts");
        // SAFETY: the 'static lifetime is never relied on: a part is only run after it was
        // claimed under this loop's generation, and this function returns only after every
        // claimed part has finished, so no call through the pointer outlives `task`.
        let erased = unsafe {
            std::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(task)
        };
        let generation = {
            let mut current = self.current.lock().expect("team state");
            current.0 += 1;
            current.1 = Some(ErasedTask(erased));
            self.parts.store(parts, Ordering::Relaxed);
            self.finished.store(0, Ordering::Relaxed);
            // Publishing the claim word last (Release) makes `parts` and `finished` visible to
            // whoever claims under the new generation.
            self.claim.store(current.0 << INDEX_BITS, Ordering::Release);
            current.0
        };
        while let Some(i) = self.claim_part(generation, parts) {
            task(i);
            self.finished.fetch_add(1, Ordering::AcqRel);
        }
        let mut backoff = Backoff::default();
        while self.finished.load(Ordering::Acquire) < parts {
            backoff.wait();
        }
    }

    /// Runs `task(first_row, rows)` over [`ROW_PARTS`] chunks of whole rows of `m` (`width`
    /// values per row).
    pub(super) fn for_each_rows(
        &self,
        m: &mut [f32],
        width: usize,
        task: &(dyn Fn(usize, &mut [f32]) + Sync),
    ) {
        let rows = m.len() / width;
        let rows_per_part = rows.div_ceil(ROW_PARTS).max(1);
        // Each part locks only its own chunk, so the locks are never contended; they turn the
        // disjoint `&mut` chunks into something the shared task can reach.
        let chunks: Vec<Mutex<&mut [f32]>> = m
            .chunks_mut(rows_per_part * width)
            .map(Mutex::new)
            .collect();
        self.for_each(chunks.len(), &|i| {
            task(i * rows_per_part, &mut chunks[i].lock().expect("row chunk"));
        });
    }

    /// Claims the next part of loop `generation`, or `None` when all are claimed or the loop
    /// is over.
    fn claim_part(&self, generation: u64, parts: usize) -> Option<usize> {
        let mut word = self.claim.load(Ordering::Acquire);
        loop {
            let (current, next) = (word >> INDEX_BITS, (word & INDEX_MASK) as usize);
            if current != generation || next >= parts {
                return None;
            }
            match self.claim.compare_exchange_weak(
                word,
                word + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(next),
                Err(seen) => word = seen,
            }
        }
    }

    /// A helper's life: take parts of each new loop until the team stops.
    fn help(&self) {
        let mut seen = 0;
        let mut backoff = Backoff::default();
        while !self.stop.load(Ordering::Acquire) {
            // Spin on the claim word; the lock is only taken once per new loop.
            let generation = self.claim.load(Ordering::Acquire) >> INDEX_BITS;
            if generation == seen {
                backoff.wait();
                continue;
            }
            backoff = Backoff::default();
            let (current, task) = *self.current.lock().expect("team state");
            let Some(task) = task.filter(|_| current == generation) else {
                continue;
            };
            seen = generation;
            let parts = self.parts.load(Ordering::Acquire);
            while let Some(i) = self.claim_part(generation, parts) {
                // SAFETY: part `i` was claimed under `generation`, so that loop's `for_each`
                // is still waiting for it and `task` is alive (see `for_each`).
                unsafe { (*task.0)(i) };
                self.finished.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// Spin-waiting that turns into yielding: when the thread waited for shares a core with the
/// waiter (the OS put them together, or the machine is busy), pure spinning would burn the
/// waiter's whole time slice, milliseconds, before the other thread could finish its part.
#[derive(Default)]
struct Backoff {
    spins: u32,
}

impl Backoff {
    /// Spins this many times (about a microsecond each) before yielding on every wait.
    const SPINS_BEFORE_YIELD: u32 = 50;

    fn wait(&mut self) {
        if self.spins < Self::SPINS_BEFORE_YIELD {
            self.spins += 1;
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
}

/// Runs `body` on the calling thread with up to `helpers` rayon workers spinning for its
/// parallel loops.
///
/// The body stays on the caller (not moved into the pool, as `rayon::scope` would): handing a
/// query to a sleeping worker and back cost two wake-ups, and waking an idle vCPU took
/// milliseconds on a VM. The helpers are detached jobs, so a pool busy with an ingest batch
/// never holds a query up: the caller then does all parts itself, and a helper that starts
/// after the pass finds the team stopped and returns.
pub(super) fn with_team<R>(helpers: usize, body: impl FnOnce(&Team) -> R) -> R {
    let team = Arc::new(Team::new());
    // The pool must exist before the caller is pinned: its threads are started by whoever uses
    // it first and inherit that thread's CPU set. Started from inside a pinned pass, the whole
    // pool would stay on one core for good: no helper could move off the caller's core, and
    // batches would lose the second core. (The embedder asks for the pool's size before a pass,
    // which starts it, but this function should not depend on its callers for that.)
    rayon::current_num_threads();
    // Woken helpers were often put on the caller's core (one query in five started that way in
    // a service-like test): the pair then shared it and the pass ran slower than alone.
    let caller = (helpers > 0).then(placement::pin_to_current).flatten();
    let caller_cpu = caller.as_ref().map(placement::Pinned::cpu);
    for _ in 0..helpers {
        let team = Arc::clone(&team);
        rayon::spawn(move || {
            let _away = caller_cpu.and_then(placement::move_off);
            team.help();
        });
    }
    let result = body(&team);
    team.stop.store(true, Ordering::Release);
    drop(caller);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_every_loop_runs_exactly_once() {
        let counts: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        with_team(2, |team| {
            for round in 0..200 {
                let parts = 1 + round % 7;
                team.for_each(parts, &|i| {
                    counts[round * 5 % 900 + i].fetch_add(1, Ordering::Relaxed);
                });
            }
        });
        let mut expected = vec![0; 1000];
        for round in 0..200 {
            for i in 0..1 + round % 7 {
                expected[round * 5 % 900 + i] += 1;
            }
        }
        let got: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn row_parts_cover_every_row_once_with_their_offsets() {
        let width = 3;
        let mut m = vec![0f32; 10 * width];
        with_team(1, |team| {
            team.for_each_rows(&mut m, width, &|first, rows| {
                for (i, row) in rows.chunks_exact_mut(width).enumerate() {
                    row.iter_mut().for_each(|x| *x += (first + i) as f32);
                }
            });
        });
        let expected: Vec<f32> = (0..10).flat_map(|r| [r as f32; 3]).collect();
        assert_eq!(m, expected);
    }

    #[test]
    fn a_loop_finishes_even_when_no_helper_ever_runs() {
        // A pool of one thread runs the body itself, so the helper job can only start after it.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let total = pool.install(|| {
            with_team(1, |team| {
                let sum = AtomicUsize::new(0);
                team.for_each(10, &|i| {
                    sum.fetch_add(i, Ordering::Relaxed);
                });
                sum.into_inner()
            })
        });
        assert_eq!(total, 45);
    }

    /// Set in the child process of the test below.
    #[cfg(target_os = "linux")]
    const FRESH_POOL_CHILD: &str = "DESKDRAFT_TEAM_FRESH_POOL_CHILD";

    /// A pass that is the first user of the global pool must not leave the pool's threads pinned
    /// to the caller's core. The check needs a process whose pool nothing has started yet, so
    /// the test runs itself again as a child with only this test selected.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_pass_that_starts_the_pool_leaves_its_threads_free_to_use_every_core() {
        use nix::sched::{CpuSet, sched_getaffinity};
        use nix::unistd::Pid;
        let allowed = |set: CpuSet| -> Vec<usize> {
            (0..CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .collect()
        };
        let ours = allowed(sched_getaffinity(Pid::from_raw(0)).unwrap());
        if ours.len() < 2 {
            eprintln!("SKIPPED: this process may use only one CPU, so nothing can be pinned away");
            return;
        }
        if std::env::var_os(FRESH_POOL_CHILD).is_none() {
            let name = "embed::bert_forward::team::tests::\
                        a_pass_that_starts_the_pool_leaves_its_threads_free_to_use_every_core";
            let child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([name, "--exact", "--nocapture", "--test-threads=1"])
                .env(FRESH_POOL_CHILD, "1")
                .output()
                .unwrap();
            let output = String::from_utf8_lossy(&child.stdout);
            assert!(
                child.status.success() && output.contains("1 passed"),
                "child run failed:\n{output}\n{}",
                String::from_utf8_lossy(&child.stderr)
            );
            return;
        }
        // In the child: the team's pass is the first thing to touch the global pool.
        with_team(1, |team| team.for_each(4, &|_| {}));
        let workers = rayon::broadcast(|_| allowed(sched_getaffinity(Pid::from_raw(0)).unwrap()));
        for (worker, cpus) in workers.iter().enumerate() {
            assert_eq!(
                cpus, &ours,
                "pool thread {worker} may run only on CPUs {cpus:?}"
            );
        }
    }
}
