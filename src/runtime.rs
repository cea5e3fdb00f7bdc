//! Where one request's short blocking steps run: in place on a multi-threaded runtime.

/// Whether the current thread may block in place (`tokio::task::block_in_place`): only on a
/// multi-threaded tokio runtime, where it panics nowhere and costs no thread hand-off.
///
/// A query's blocking steps (its embedding, its searches) take a few milliseconds each, and
/// handing each to the blocking pool cost a thread wake-up of up to a millisecond on a 2-core VM.
/// Callers that run several such steps at once give each its own task: blocking in place holds
/// up every other future polled by the same task.
pub fn can_block_in_place() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

#[cfg(test)]
mod tests {
    use super::can_block_in_place;

    #[test]
    fn only_a_multi_threaded_runtime_allows_blocking_in_place() {
        assert!(!can_block_in_place(), "outside any runtime");
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(!current.block_on(async { can_block_in_place() }));
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert!(multi.block_on(async { can_block_in_place() }));
    }
}
