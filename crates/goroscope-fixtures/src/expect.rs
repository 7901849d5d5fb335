//! The `EXPECT` line: what a fixture program says about its own goroutines.

use crate::relations::ExpectRelation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What a fixture program says about itself on its `EXPECT` line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Expect {
    /// The fixture's name (its directory under `fixtures/go`).
    pub fixture: String,
    /// `runtime.Version()`, e.g. `go1.27.3`.
    pub go_version: String,
    /// `runtime.NumGoroutine()` when EXPECT was printed (the main goroutine included).
    pub total: u64,
    pub sites: Vec<ExpectSite>,
    /// Relations between goroutines (the relation fixtures under `fixtures/go/relations`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<ExpectRelation>,
    /// The thread the program's announcing goroutine takes with it when it exits: the picture
    /// is final once `/proc/PID/task/EXIT_TID` is gone ([`crate::Fixture::start`] waits for
    /// that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_tid: Option<u32>,
}

/// One group of goroutines blocked at one place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpectSite {
    /// Kebab-case rule id (`chan-receive-no-sender`, …) or `healthy`.
    pub pattern: String,
    /// A leak (true) or a healthy/benign group (false).
    pub leak: bool,
    pub count: u64,
    /// The blocking function as the runtime prints it (`main.leakRecv.func1`).
    pub function: String,
    /// Base name of its file.
    pub file: String,
    /// The blocking line; `None` for standard-library sites the program cannot know.
    #[serde(default)]
    pub line: Option<u32>,
    /// As Go prints it in debug=2 (`chan receive`).
    pub wait_reason: String,
    #[serde(default)]
    pub created_by_function: Option<String>,
    /// The `go` statement's line; `None` when the standard library starts the goroutine.
    #[serde(default)]
    pub created_by_line: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The runtime's goroutineleak profile (Go 1.26+) reports this group.
    #[serde(default)]
    pub provable: bool,
    /// The goroutines called `runtime.LockOSThread` (`[…, locked to thread]`).
    #[serde(default)]
    pub locked_to_thread: bool,
    /// A lower bound of the stack depth, given when tracebacks elide frames (over 100).
    #[serde(default)]
    pub min_depth: Option<u32>,
    /// The goroutines compute (running or runnable, `wait_reason` is then `runnable`).
    #[serde(default)]
    pub busy: bool,
}

impl fmt::Display for ExpectSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ×{} [{}] {} {}",
            self.pattern, self.count, self.wait_reason, self.function, self.file
        )?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_expect_lines() {
        let j = r#"{"fixture":"x","go_version":"go1.21.13","total":12,"sites":[{"pattern":"chan-receive-no-sender","leak":true,"count":10,"function":"main.leakRecv.func1.1","file":"main.go","line":19,"wait_reason":"chan receive","created_by_function":"main.leakRecv.func1","created_by_line":17,"labels":{"job":"reconcile"},"provable":true},{"pattern":"healthy","leak":false,"count":3,"function":"net/http.(*persistConn).readLoop","file":"transport.go","wait_reason":"IO wait","provable":false}]}"#;
        let e: Expect = serde_json::from_str(j).unwrap();
        assert_eq!(e.total, 12);
        assert_eq!(e.sites[0].labels["job"], "reconcile");
        assert_eq!(e.sites[1].line, None);
        assert_eq!(e.sites[1].created_by_line, None);
        assert_eq!(
            e.sites[0].to_string(),
            "chan-receive-no-sender ×10 [chan receive] main.leakRecv.func1.1 main.go:19"
        );
    }
}
