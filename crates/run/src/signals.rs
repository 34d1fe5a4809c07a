//! Ctrl-C, SIGTERM and SIGHUP become a counter the supervisor polls: the first asks for an
//! orderly stop (children stopped in order, logs kept), a second for an immediate one.

use std::sync::atomic::{AtomicUsize, Ordering};

static RECEIVED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic add: async-signal-safe.
    RECEIVED.fetch_add(1, Ordering::SeqCst);
}

/// Installs the handlers (idempotent).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `on_signal` only touches an atomic, which is async-signal-safe; a zeroed
        // sigaction with a handler and an empty mask is a valid argument.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// How many stop signals have arrived.
pub fn received() -> usize {
    RECEIVED.load(Ordering::SeqCst)
}
