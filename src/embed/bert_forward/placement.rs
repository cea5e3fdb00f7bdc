//! Keeps the caller and the helpers of one forward pass on different cores (Linux only).
//!
//! The scheduler often woke the helper on the caller's core; the two then took turns on it while
//! the other core idled, for as long as it took the load balancer to notice (milliseconds, the
//! whole pass). For the length of a pass the caller is pinned to the core it is on and each
//! helper is moved off that core; both get their previous CPU sets back afterwards.

/// Restores the calling thread's previous CPU set when dropped.
pub(super) struct Pinned {
    #[cfg(target_os = "linux")]
    previous: nix::sched::CpuSet,
    cpu: usize,
}

impl Pinned {
    /// The core the thread is pinned to (or kept off).
    pub(super) fn cpu(&self) -> usize {
        self.cpu
    }
}

/// Pins the calling thread to the core it runs on, or `None` where that is not possible (not
/// Linux, a single allowed core, a failing system call).
pub(super) fn pin_to_current() -> Option<Pinned> {
    #[cfg(target_os = "linux")]
    {
        use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
        use nix::unistd::Pid;
        let previous = sched_getaffinity(Pid::from_raw(0)).ok()?;
        let cpu = sched_getcpu().ok()?;
        let mut only = CpuSet::new();
        only.set(cpu).ok()?;
        sched_setaffinity(Pid::from_raw(0), &only).ok()?;
        Some(Pinned { previous, cpu })
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Moves the calling thread off core `cpu` if it may run elsewhere; `None` if it stays.
pub(super) fn move_off(cpu: usize) -> Option<Pinned> {
    #[cfg(target_os = "linux")]
    {
        use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
        use nix::unistd::Pid;
        let previous = sched_getaffinity(Pid::from_raw(0)).ok()?;
        let mut others = previous;
        others.unset(cpu).ok()?;
        let any_other = (0..CpuSet::count()).any(|c| others.is_set(c).unwrap_or(false));
        if !any_other {
            return None;
        }
        sched_setaffinity(Pid::from_raw(0), &others).ok()?;
        Some(Pinned { previous, cpu })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        None
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        {
            // Best effort: a thread left pinned still runs correctly, only less flexibly.
            let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &self.previous);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use nix::sched::sched_getaffinity;
    use nix::unistd::Pid;

    #[test]
    fn pinning_and_moving_off_are_undone_on_drop() {
        let before = sched_getaffinity(Pid::from_raw(0)).unwrap();
        let allowed: Vec<usize> = (0..nix::sched::CpuSet::count())
            .filter(|&c| before.is_set(c).unwrap())
            .collect();
        if allowed.len() < 2 {
            eprintln!("SKIPPED: this thread may run on only one core");
            return;
        }
        {
            let pinned = pin_to_current().expect("pins");
            let now = sched_getaffinity(Pid::from_raw(0)).unwrap();
            let now: Vec<usize> = allowed
                .iter()
                .copied()
                .filter(|&c| now.is_set(c).unwrap())
                .collect();
            assert_eq!(now, vec![pinned.cpu()]);
        }
        assert_eq!(sched_getaffinity(Pid::from_raw(0)).unwrap(), before);
        {
            let away = move_off(allowed[0]).expect("moves");
            let now = sched_getaffinity(Pid::from_raw(0)).unwrap();
            assert!(!now.is_set(allowed[0]).unwrap());
            assert!(now.is_set(allowed[1]).unwrap());
            assert_eq!(
                nix::sched::sched_getcpu().map(|c| c != away.cpu()),
                Ok(true)
            );
        }
        assert_eq!(sched_getaffinity(Pid::from_raw(0)).unwrap(), before);
    }
}
