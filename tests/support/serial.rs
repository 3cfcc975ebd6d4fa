//! Tests that measure timing on 2 cores (a harness or a generator and a server share them)
//! run one at a time, so that one test's load does not show in another's figures. The
//! lock is per test binary; cargo runs binaries one after another.

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Held for the whole test; a test that panicked does not poison it for the others.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}
