//! Thresholds and signatures the verdicts use, as data with the reason for each value.
//!
//! Beside [`crate::benign::TABLE`] (goroutines that wait by design): how big a site must be to
//! be a finding by its size alone, how many idle HTTP client connections one transport keeps,
//! and what a long-lived actor of a service looks like.

/// A site (blocking or creation) whose size alone makes its goroutines a finding.
#[derive(Debug, Clone, Copy)]
pub struct Magnitude {
    /// At least this many goroutines at the site…
    pub min_count: u64,
    /// …holding at least this share of all goroutines.
    pub min_share: f64,
    pub why: &'static str,
}

/// Checked in order; the first that holds is quoted.
pub const MAGNITUDE: &[Magnitude] = &[
    Magnitude {
        min_count: 1_000,
        min_share: 0.5,
        why: "one site holds most of the process's goroutines: whatever the reason, that is where its memory and scheduler time go",
    },
    Magnitude {
        min_count: 10_000,
        min_share: 0.0,
        why: "ten thousand goroutines parked at one site (Uber's LeakProf flags a location past this size)",
    },
];

/// The first magnitude rule a site of `count` goroutines out of `total` meets.
pub fn magnitude(count: u64, total: u64) -> Option<&'static Magnitude> {
    if total == 0 {
        return None;
    }
    let share = count as f64 / total as f64;
    MAGNITUDE
        .iter()
        .find(|m| count >= m.min_count && share >= m.min_share)
}

/// Idle HTTP client connections (`persistConn` read loops waiting for a response) beyond which
/// one default `http.Transport` is not the explanation: `http.DefaultTransport` keeps at most 100
/// idle connections in all (`MaxIdleConns`) and 2 per host (`DefaultMaxIdleConnsPerHost`). More
/// means a Transport (or Client with its own Transport) made per call and never closed, or
/// limits raised on purpose (a proxy's large pool) — a dump cannot tell which, whatever their
/// number, so past this count the connections are `need-more-samples` (a per-call Transport
/// grows with traffic: a second sample decides) rather than benign, leaks at exit, and allowed
/// with `-A transport-per-call` where the limits were raised on purpose.
pub const HTTP_IDLE_CLIENT_LIMIT: u64 = 100;

/// A long-lived actor: a loop a service starts once (per owner) at startup and that waits for
/// work, a tick or its stop signal for as long as the process runs. Judged in `live` and `crash`
/// contexts only: at exit they are leaks like any other goroutine left behind.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    /// At most this many goroutines in the group…
    pub max_count: u64,
    /// …and at most this many per distinct creator goroutine (created once per owner: a main
    /// that starts two copies of one loop is as likely a loop started per call).
    pub max_per_creator: u64,
    /// Blocked at least this share of the longest wait in the dump (started with the process),
    /// when the dump has wait minutes…
    pub min_age_share: f64,
    /// …and the longest wait is at least this many minutes (in a young process every waiter is
    /// "as old as the process", which then says nothing).
    pub min_minutes: u32,
}

pub const ACTOR: Actor = Actor {
    max_count: 64,
    max_per_creator: 1,
    min_age_share: 0.8,
    min_minutes: 5,
};

/// What a window of births and deaths (an execution trace, eBPF) must show about a creation
/// site before [`crate::lifecycle`] calls it leaking or steady. A window is short (seconds), so
/// each test asks for what a healthy service does not do within one: goroutines of one `go`
/// statement that outlive their siblings by far, or a count that only rises.
#[derive(Debug, Clone, Copy)]
pub struct LifecycleLimits {
    /// Leaking by outliving: at least this many goroutines born in the window and still alive
    /// at its end…
    pub min_outlived: u64,
    /// …each older than this many times the p99 lifetime of the site's goroutines that ended
    /// (a pool's or a handler's lifetimes vary, but not by an order of magnitude past p99)…
    pub outlive_factor: u64,
    /// …and older than this share of the window (a goroutine born just before the end has not
    /// had the time to end, whatever its siblings do).
    pub min_age_share: f64,
    /// Leaking by growth: the number alive rises by at least this many over the window…
    pub min_growth: u64,
    /// …rising in at least this many of the window's four quarters and falling in none (a
    /// burst at startup rises once; a leak rises all along)…
    pub min_rising_quarters: usize,
    /// …while none of the site's goroutines ends, or some outlive their siblings (growth whose
    /// goroutines end young is load rising, not a leak).
    pub min_born: u64,
    /// Steady: the site's goroutines end, none outlives its siblings, and the number alive at
    /// the end exceeds the number at the start by at most `min_growth` or this share of those
    /// born.
    pub steady_share: f64,
}

pub const LIFECYCLE: LifecycleLimits = LifecycleLimits {
    min_outlived: 2,
    outlive_factor: 10,
    min_age_share: 0.25,
    min_growth: 3,
    min_rising_quarters: 3,
    min_born: 3,
    steady_share: 0.1,
};

/// Functions that start a service's long-lived actors: `main`, init, and lifecycle frameworks.
/// A goroutine created by one of these (as the `created by` frame) is started at startup.
/// Globs as in the config file (`*` matches any run of characters).
pub const LIFECYCLE_CREATORS: &[(&str, &str)] = &[
    ("main.*", "the program's main package"),
    ("*.init", "a package initialiser"),
    ("*.init.*", "a package initialiser"),
    (
        "github.com/oklog/run.(*Group).Run*",
        "oklog/run: an actor group run from main",
    ),
    (
        "golang.org/x/sync/errgroup.(*Group).Go*",
        "errgroup: goroutines of a group",
    ),
    (
        "github.com/thejerf/suture*",
        "suture: a supervisor tree's services",
    ),
    ("go.uber.org/fx*", "fx: an application's lifecycle hooks"),
    (
        "k8s.io/apimachinery/pkg/util/wait.*",
        "wait.Until and friends: periodic loops with a stop channel",
    ),
];

/// Functions named like a signal handler's wait (`osutil.HandleInterrupts.func1`,
/// `main.waitForSignal`): a goroutine receiving in one, while os/signal's loop runs (the program
/// called `signal.Notify`), waits for an OS signal — one per process, not a leak. Used only
/// when the source line is not at hand to say so.
pub const SIGNAL_WAITER_FUNCTIONS: &[&str] = &["*Interrupt*", "*Signal*", "*signal*"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_thresholds() {
        // The 98 % site of a 5,171-goroutine profile is a finding by size.
        assert!(magnitude(5_067, 5_171).is_some());
        // 95 % of 10,000.
        assert!(magnitude(9_500, 10_000).is_some());
        // Most goroutines of a small program are not a finding by size.
        assert!(magnitude(45, 50).is_none());
        // A large pool that is a small share of a very large process is not, below 10k…
        assert!(magnitude(5_000, 100_000).is_none());
        // …but 10k at one site is.
        assert!(magnitude(10_000, 1_000_000).is_some());
        assert!(magnitude(1, 0).is_none());
    }
}
