//! Leak rules, one module per pattern, each a lint with an id, a summary, why the pattern leaks,
//! a minimal Go example (a fixture program under `fixtures/go/<id>/`), the fix, and tests.
//!
//! A rule looks at one group (facts computed once per distinct stack) plus a few
//! snapshot-wide facts, and returns a [`Finding`] or nothing. `leak` needs unambiguous evidence;
//! heuristics give `suspect`; shapes that one snapshot cannot decide give `need-more-samples`.

use crate::frames::StackFacts;
use crate::report::Verdict;
use goroscope_model::{FrameId, Snapshot, Status, WaitReason};

mod background_loop;
mod chan_receive_no_sender;
mod chan_send_receiver_gone;
mod cond_no_signal;
mod ctx_ignored;
mod http_body_not_closed;
mod io_no_deadline;
mod mutex_never_unlocked;
mod nil_chan;
mod pool_backlog;
mod range_never_closed;
pub(crate) mod relations;
mod select_no_cases;
mod waitgroup_missing_done;

#[cfg(test)]
pub(crate) mod testkit;

/// A leak rule.
#[derive(Debug)]
pub struct Rule {
    /// Kebab-case id, used by `-W`/`-A`/`-D`, the config file and `Group::pattern`.
    pub id: &'static str,
    /// What it detects.
    pub summary: &'static str,
    /// Why the pattern leaks.
    pub why: &'static str,
    /// The minimal Go program that shows it.
    pub example: &'static str,
    /// How to fix it.
    pub fix: &'static str,
    pub check: fn(&Ctx<'_>) -> Option<Finding>,
}

/// What a rule concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    /// One sentence for the reader.
    pub explanation: String,
    pub evidence: Vec<String>,
}

impl Finding {
    pub fn new(verdict: Verdict, explanation: impl Into<String>) -> Self {
        Finding {
            verdict,
            explanation: explanation.into(),
            evidence: Vec::new(),
        }
    }
    pub fn with(mut self, evidence: impl Into<String>) -> Self {
        self.evidence.push(evidence.into());
        self
    }
}

/// Every rule, in the order ties are broken.
pub const ALL: &[&Rule] = &[
    &nil_chan::RULE,
    &select_no_cases::RULE,
    &http_body_not_closed::RULE,
    &pool_backlog::RULE,
    &chan_send_receiver_gone::RULE,
    &range_never_closed::RULE,
    &chan_receive_no_sender::RULE,
    &waitgroup_missing_done::RULE,
    &mutex_never_unlocked::RULE,
    &cond_no_signal::RULE,
    &io_no_deadline::RULE,
    &ctx_ignored::RULE,
    &background_loop::RULE,
    // Decided by relations, size, context and lifecycles (their check never fires alone).
    &relations::DEADLOCK,
    &relations::LOCK_HELD_TOO_LONG,
    &relations::LOCK_HELD_WHILE_BLOCKED,
    &relations::TRANSPORT_PER_CALL,
    &relations::MAGNITUDE,
    &relations::BLOCKED_AT_EXIT,
    &relations::RUNNING_AT_EXIT,
    &relations::LIFECYCLE_LEAK,
];

/// Whether `id` names a rule.
pub fn is_known(id: &str) -> bool {
    ALL.iter().any(|r| r.id == id)
}

/// Every rule id.
pub fn ids() -> Vec<&'static str> {
    ALL.iter().map(|r| r.id).collect()
}

/// A rule by id.
pub fn get(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

/// Facts about the whole snapshot that some rules need.
#[derive(Debug, Clone, Default)]
pub struct SnapFacts {
    /// Goroutines in `net/http.(*persistConn).readLoop` blocked in `select`: connections whose
    /// response body is being held.
    pub stuck_read_loops: u64,
    /// Functions on the stacks of goroutines blocked in `Accept`: goroutines they created
    /// serve accepted connections.
    pub accept_functions: Vec<String>,
    /// Goroutines in `net/http.(*persistConn).readLoop` idle in I/O wait: pooled client
    /// connections waiting for their next response.
    pub idle_client_conns: u64,
    /// os/signal's delivery loop runs: the program called `signal.Notify`.
    pub signal_loop: bool,
}

/// One group, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    /// Representative stack, innermost first.
    pub stack: &'a [FrameId],
    pub facts: &'a StackFacts,
    pub status: Status,
    /// The wait reason (read from the header or inferred from frames).
    pub reason: Option<WaitReason>,
    pub count: u64,
    /// Wait minutes, min and max (a lower bound).
    pub minutes: Option<(u32, u32)>,
    pub created_by: Option<&'a str>,
    /// Number of distinct creator goroutines seen (0 when unknown).
    pub creators: usize,
    pub wide: &'a SnapFacts,
}

impl<'a> Ctx<'a> {
    /// Function names, innermost first.
    pub fn functions(&self) -> impl Iterator<Item = &'a str> + 'a {
        let snap = self.snap;
        self.stack.iter().map(move |&f| snap.function(f))
    }

    pub fn has_function(&self, name: &str) -> bool {
        self.functions().any(|f| f == name)
    }

    /// The blocking function (first frame outside runtime plumbing and, when there is one,
    /// outside the standard library).
    pub fn blocking_function(&self) -> Option<&'a str> {
        self.facts
            .blocking
            .map(|i| self.snap.function(self.stack[i]))
    }

    /// The blocking site as `function (file:line)`.
    pub fn blocking_site(&self) -> String {
        match self.facts.blocking {
            Some(i) => self.snap.frame_site(self.stack[i]).to_string(),
            None => "?".into(),
        }
    }

    /// Whether the group blocks in code outside the standard library.
    pub fn in_user_code(&self) -> bool {
        self.facts.has_user_frame
    }

    /// Whether the blocking operation is written in user code: the first frame outside runtime
    /// plumbing is the user's (not a standard library call such as an HTTP round trip that
    /// waits inside net/http).
    pub fn blocks_in_user_code(&self) -> bool {
        self.facts.has_user_frame && self.facts.first_non_plumbing == self.facts.blocking
    }

    /// Whether the stack shows the runtime frames above the blocking site (debug=2 before Go
    /// 1.27, protobuf profiles), so `runtime.chanrecv1`/`chanrecv2` can be told apart.
    pub fn runtime_frames_visible(&self) -> bool {
        self.facts.first_non_plumbing.unwrap_or(0) > 0
    }

    /// Max wait minutes, if known.
    pub fn max_minutes(&self) -> Option<u32> {
        self.minutes.map(|m| m.1)
    }

    /// Several goroutines started by one `go` statement from at most one creator goroutine,
    /// all parked alike: the shape of a worker pool (or of a loop of leaks; one snapshot cannot
    /// tell them apart).
    pub fn pool_shape(&self) -> bool {
        self.count >= 2 && self.creators <= 1
    }

    /// Common evidence: count, state, site, minutes, creator.
    pub fn basic_evidence(&self, f: Finding) -> Finding {
        let mut f = f.with(format!(
            "{} goroutine{} in [{}] at {}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.reason.map_or(self.status.as_str(), |r| r.as_str()),
            self.blocking_site()
        ));
        if let Some(m) = self.max_minutes() {
            f = f.with(format!("blocked at least {m} minutes (lower bound)"));
        }
        if let Some(c) = self.created_by {
            let who = match self.creators {
                0 => String::new(),
                1 => " from one creator goroutine".into(),
                n => format!(" from {n} creator goroutines"),
            };
            f = f.with(format!("created by {c}{who}"));
        }
        f
    }
}

#[cfg(test)]
mod catalog_tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_rule_is_documented_and_has_its_fixture_program() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut seen = std::collections::HashSet::new();
        for r in ALL {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(
                r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{} is not kebab-case",
                r.id
            );
            for (what, text) in [("summary", r.summary), ("why", r.why), ("fix", r.fix)] {
                assert!(text.len() > 20, "{}: {what} too short", r.id);
            }
            // The example names the fixture program that shows it: its own folder for a rule
            // decided by frames, a relation fixture (or a go test fixture) for the others.
            let program = r.example.split(':').next().unwrap_or("");
            assert!(
                program.starts_with("fixtures/") && program.ends_with(".go"),
                "{}: example must name a fixture program: {}",
                r.id,
                r.example
            );
            assert!(root.join(program).is_file(), "{}: {program} missing", r.id);
            assert_eq!(get(r.id).map(|x| x.id), Some(r.id));
        }
        assert!(is_known("nil-chan") && !is_known("nil_chan"));
    }
}
