//! SIGINT and SIGTERM during a run: the first asks the run to stop cleanly
//! (no new recording is started, the ones in flight are finished and
//! committed, the rest are left for the next run); a second one ends the
//! process at once, as an operator pressing Ctrl-C twice expects. The
//! handlers only set a flag (nothing else is safe in a signal handler);
//! the pipeline polls it between recordings.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// Exit status after a second signal: the shell's convention, 128 + N.
const SIGINT_EXIT: i32 = 128 + signal_hook::consts::SIGINT;
const SIGTERM_EXIT: i32 = 128 + signal_hook::consts::SIGTERM;

/// Set once a stop was asked for; cheap to clone and poll.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag nothing sets but [`StopFlag::stop`] (tests, library use).
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag set by SIGINT or SIGTERM; while it is set, the same signal
    /// again exits the process at once.
    pub fn on_signals() -> Result<Self> {
        let flag = Self::new();
        for (signal, code) in [
            (signal_hook::consts::SIGINT, SIGINT_EXIT),
            (signal_hook::consts::SIGTERM, SIGTERM_EXIT),
        ] {
            // Registered first, so it sees the flag as the previous signal
            // left it: only a second signal exits.
            signal_hook::flag::register_conditional_shutdown(signal, code, flag.0.clone())
                .and_then(|_| signal_hook::flag::register(signal, flag.0.clone()))
                .map_err(|e| Error::Other(format!("cannot handle signal {signal}: {e}")))?;
        }
        Ok(flag)
    }

    /// Asks the run to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_flag() {
        let flag = StopFlag::new();
        let seen_by_pipeline = flag.clone();
        assert!(!seen_by_pipeline.is_stopped());
        flag.stop();
        assert!(seen_by_pipeline.is_stopped());
    }
}
