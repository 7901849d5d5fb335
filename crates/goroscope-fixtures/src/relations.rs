//! The relation fixtures: programs under `fixtures/go/relations/<name>` that set up a relation
//! between goroutines on purpose (a deadlock cycle, a lock chain with a busy holder, a
//! WaitGroup waited by its own workers, 9,500 of 10,000 goroutines at one site, a service's
//! long-lived actors…) and describe it in EXPECT's `relations[]` (see
//! `fixtures/go/README.md`): goids, roles, the objects (channel, mutex, WaitGroup addresses as
//! `%p` prints them) each goroutine waits on or holds, and the verdicts that are right in each
//! snapshot context. They are not in [`crate::fixture_names`]: the per-pattern tests of the
//! other crates do not run them; [`relation_fixture_names`] lists them.
//!
//! Some of them block their main goroutine (a pipeline's driver, a run group): they announce
//! from a goroutine locked to a thread of its own, which exits after READY and takes its
//! thread with it ([`crate::Expect::exit_tid`]); [`crate::Fixture::start`] waits for that
//! thread to vanish ([`wait_thread_gone`]), so a dump taken after `start` never shows the
//! announcer. `relations/runtime-deadlock` ends by itself: run it with [`run_to_exit`].

use crate::{command, repo_root, StartOptions, Toolchain, EXIT_TIMEOUT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The directory of the relation fixtures under `fixtures/go`.
pub const RELATIONS_DIR: &str = "relations";

/// One relation of EXPECT's `relations[]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpectRelation {
    /// `deadlock-cycle`, `lock-chain`, `lock-order`, `rw-starved`, `wg-self`, `orphan`,
    /// `transport-per-call`, `magnitude`, `signal-waiter`, `long-lived`, `runtime-deadlock`.
    pub kind: String,
    /// Every goroutine of the relation that joined it by goid, sorted (empty for relations
    /// over whole sites: see `count`).
    #[serde(default)]
    pub goids: Vec<u64>,
    #[serde(default)]
    pub objects: Vec<ExpectObject>,
    #[serde(default)]
    pub members: Vec<ExpectMember>,
    /// The root of a chain: the goroutine whose progress frees all the others.
    #[serde(default)]
    pub holder_goid: Option<u64>,
    /// The root's state: `running|runnable` when it computes, else its wait reason.
    #[serde(default)]
    pub holder_state: Option<String>,
    /// Where the root is (its innermost user function).
    #[serde(default)]
    pub holder_function: Option<String>,
    /// Goroutines in a relation too large to list (magnitude, transport-per-call) or spanning
    /// whole sites (long-lived).
    #[serde(default)]
    pub count: Option<u64>,
    /// What one healthy owner keeps at most (transport-per-call: idle connections per host).
    #[serde(default)]
    pub limit: Option<u64>,
    /// The blocking function of a sized group.
    #[serde(default)]
    pub function: Option<String>,
    /// The blocking functions of the sites a relation spans.
    #[serde(default)]
    pub functions: Vec<String>,
    /// Snapshot context (`live`, `exit`, `test`, `crash`, `deadlock`) → the right verdicts
    /// (`leak`, `suspect`, `benign`, `need-more-samples`), best first.
    #[serde(default)]
    pub verdicts: BTreeMap<String, Vec<String>>,
    pub why: String,
}

/// A channel, mutex or WaitGroup of a relation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpectObject {
    /// Its name in the program (`jobs`, `cache.mu`).
    pub name: String,
    /// `chan`, `mutex`, `rwmutex`, `waitgroup`.
    pub kind: String,
    /// `0xc000012345`, as `%p` prints it.
    pub addr: String,
    /// The struct it is a field of (`*main.Cache`), and that struct's address.
    #[serde(default)]
    pub owner_type: Option<String>,
    #[serde(default)]
    pub owner_addr: Option<String>,
    /// Offset inside the owner, in bytes.
    #[serde(default)]
    pub offset: Option<u64>,
    /// Goids holding it (mutexes) and waiting on it.
    #[serde(default)]
    pub holders: Vec<u64>,
    #[serde(default)]
    pub waiters: Vec<u64>,
}

/// One goroutine of a relation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpectMember {
    pub goid: u64,
    /// `stage`, `driver`, `peer`, `waiter`, `holder`, `writer`, `reader-holding`…
    pub role: String,
    /// Its innermost user function where it waits or computes.
    pub function: String,
    /// Its wait reason as this Go release prints it, or `running|runnable`.
    pub state: String,
    /// `send`, `recv`, `lock`, `rlock`, `wait`, `sleep`, `busy`.
    pub op: String,
    /// The address of the object it is blocked on.
    #[serde(default)]
    pub waits_on: Option<String>,
    /// Addresses of the mutexes it holds.
    #[serde(default)]
    pub holds: Vec<String>,
}

impl ExpectRelation {
    /// The object at `addr`.
    pub fn object(&self, addr: &str) -> Option<&ExpectObject> {
        self.objects.iter().find(|o| o.addr == addr)
    }
}

/// The relation fixtures (`relations/<name>`), sorted: every directory of
/// `fixtures/go/relations` with a `main.go`.
pub fn relation_fixture_names() -> Vec<String> {
    let dir = repo_root().join("fixtures").join("go").join(RELATIONS_DIR);
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().join("main.go").is_file())
        .map(|e| format!("{RELATIONS_DIR}/{}", e.file_name().to_string_lossy()))
        .collect();
    out.sort();
    out
}

/// Waits until thread `tid` of process `pid` is gone (`/proc/PID/task/TID` vanished), or
/// the process itself exited.
pub fn wait_thread_gone(pid: u32, tid: u32, timeout: Duration) -> Result<(), String> {
    let task = PathBuf::from(format!("/proc/{pid}/task/{tid}"));
    let deadline = Instant::now() + timeout;
    while task.exists() {
        if Instant::now() >= deadline {
            return Err(format!(
                "thread {tid} of process {pid} (the announcing goroutine's) still exists after {timeout:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// A program that ended by itself: what it expected, its stderr and status (the same record
/// as a panic run's).
pub type Exited = crate::Crash;

/// Runs a fixture that ends by itself (`relations/runtime-deadlock`: the runtime declares
/// the deadlock after EXPECT and exits with status 2, the dump on stderr) and returns what
/// it printed. `opts.env` may set `GOTRACEBACK`.
///
/// # Panics
/// When the program prints no EXPECT or does not exit in time.
pub fn run_to_exit(name: &str, tc: &Toolchain, opts: &StartOptions) -> Exited {
    crate::fixture::run_until_exit(
        command(name, tc, opts),
        name,
        tc,
        true,
        &format!("did not exit within {EXIT_TIMEOUT:?} of its EXPECT"),
    )
}

/// `GOROSCOPE_SAVE_DUMPS`: the directory tests save the dumps they take into, when set.
pub fn save_dir() -> Option<PathBuf> {
    std::env::var_os("GOROSCOPE_SAVE_DUMPS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Writes `bytes` to `<GOROSCOPE_SAVE_DUMPS>/<rel>` (creating directories) when the variable
/// is set; returns the path written.
///
/// # Panics
/// When the write fails: a test asked to save must not lose dumps silently.
pub fn save(rel: impl AsRef<Path>, bytes: &[u8]) -> Option<PathBuf> {
    let path = save_dir()?.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    }
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relations_and_keeps_old_expect_lines_valid() {
        let old = r#"{"fixture":"x","go_version":"go1.21.13","total":2,"sites":[]}"#;
        let e: crate::Expect = serde_json::from_str(old).unwrap();
        assert!(e.relations.is_empty() && e.exit_tid.is_none());
        let j = r#"{"fixture":"relations/lock-order","go_version":"go1.25.5","total":4,"sites":[],
            "relations":[{"kind":"lock-order","goids":[23,24],
            "objects":[{"name":"a.mu","kind":"mutex","addr":"0xc000086378","owner_type":"*main.Account","owner_addr":"0xc000086360","offset":24,"holders":[23],"waiters":[24]}],
            "members":[{"goid":23,"role":"transfer","function":"main.transfer","state":"sync.Mutex.Lock","op":"lock","waits_on":"0xc000086398","holds":["0xc000086378"]}],
            "verdicts":{"live":["leak"]},"why":"w"},
            {"kind":"long-lived","goids":[],"count":23,"functions":["main.(*Poller).Serve"],"verdicts":{"live":["benign","need-more-samples"]},"why":"w"}],
            "exit_tid":21749}"#;
        let e: crate::Expect = serde_json::from_str(j).unwrap();
        assert_eq!(e.exit_tid, Some(21749));
        let r = &e.relations[0];
        assert_eq!(r.object("0xc000086378").unwrap().offset, Some(24));
        assert_eq!(r.members[0].holds, ["0xc000086378"]);
        assert_eq!(r.verdicts["live"], ["leak"]);
        assert_eq!(e.relations[1].count, Some(23));
        // Round trip: what the harness writes beside saved dumps reads back the same.
        let back: crate::Expect =
            serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn lists_the_relation_fixtures_apart_from_the_pattern_fixtures() {
        let names = relation_fixture_names();
        assert!(
            names.iter().any(|n| n == "relations/lock-chain"),
            "{names:?}"
        );
        assert!(names.iter().all(|n| n.starts_with("relations/")));
        assert!(!crate::fixture_names()
            .iter()
            .any(|n| n.contains("relations")));
    }

    #[test]
    fn waiting_for_a_thread_that_never_existed_returns_at_once() {
        let t = Instant::now();
        wait_thread_gone(std::process::id(), u32::MAX, Duration::from_secs(5)).unwrap();
        assert!(t.elapsed() < Duration::from_secs(1));
        // Our own main thread stays: the wait gives up with a message.
        let me = std::process::id();
        let e = wait_thread_gone(me, me, Duration::from_millis(20)).unwrap_err();
        assert!(e.contains("still exists"), "{e}");
    }
}
