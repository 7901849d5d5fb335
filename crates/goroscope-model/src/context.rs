//! What the moment of a snapshot means for the goroutines in it.

use std::fmt;

/// The circumstance a snapshot was taken in. The same blocked goroutine means different things
/// in each: still blocked when the process exits is leaked by definition (goleak's rule), while
/// still blocked in a live service is a question for time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// A running service (a `/debug/pprof` answer, an attach, a core of a running process):
    /// a blocked goroutine may still be woken; a verdict needs evidence beyond "blocked".
    Live,
    /// The process was exiting (`goroscope run`): whatever user goroutine is still blocked can
    /// never be woken any more.
    Exit,
    /// Taken in a test binary (frames from `testing.`/`_test.go`, or a `go test` timeout):
    /// goleak's semantics, whatever is still blocked after the test returned is leaked.
    Test,
    /// A crash (panic, `fatal error`, SIGQUIT/SIGABRT): the program died at this moment.
    Crash,
    /// The runtime declared `all goroutines are asleep - deadlock!`: it proved every goroutine
    /// stuck.
    Deadlock,
}

impl Context {
    /// Every context, in the order `--context` lists them.
    pub const ALL: [Context; 5] = [
        Context::Live,
        Context::Exit,
        Context::Test,
        Context::Crash,
        Context::Deadlock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Context::Live => "live",
            Context::Exit => "exit",
            Context::Test => "test",
            Context::Crash => "crash",
            Context::Deadlock => "deadlock",
        }
    }

    /// Parses the names [`Context::as_str`] returns (and `at-exit` for `exit`).
    pub fn parse(s: &str) -> Option<Context> {
        Some(match s {
            "live" => Context::Live,
            "exit" | "at-exit" => Context::Exit,
            "test" => Context::Test,
            "crash" => Context::Crash,
            "deadlock" => Context::Deadlock,
            _ => return None,
        })
    }

    /// Whether nothing can wake a goroutine that is blocked at this moment (the process is
    /// ending, or the runtime proved every goroutine stuck).
    pub fn is_final(self) -> bool {
        matches!(self, Context::Exit | Context::Test | Context::Deadlock)
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Context::ALL {
            assert_eq!(Context::parse(c.as_str()), Some(c));
        }
        assert_eq!(Context::parse("at-exit"), Some(Context::Exit));
        assert_eq!(Context::parse("dead"), None);
    }
}
