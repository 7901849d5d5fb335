//! Ground truth of the relation fixtures' dump forms (issue 8).
//!
//! For every relation fixture (`fixtures/go/relations/*`) and installed Go release, this takes
//! every form the program can be dumped in: `goroscope attach PID -o json` (the binary of this
//! workspace), pprof `debug=2`, `debug=1` and protobuf over HTTP, the runtime's SIGQUIT dump
//! with `GOTRACEBACK=system` and with `GOTRACEBACK=crash` (which ends in SIGABRT), and for
//! `runtime-deadlock` the runtime's own deadlock dump under the default `GOTRACEBACK`,
//! `system` and `crash`. It then checks, with a small traceback reader of its own and the
//! protobuf decoded by `goroscope-pprof` (never goroscope's own readers: this is what they are
//! judged against), that the dump itself carries what the relation analysis needs:
//!
//! * every EXPECT site, with its count (text forms and attach: also its wait reason and
//!   creator; `debug=1`/protobuf: by stack only);
//! * every relation member, by goid, in the state EXPECT gives (forms with goids);
//! * the object each member waits on, as a word among its frames' arguments, and for the
//!   holders of a mutex, the mutex's owner as the receiver of a method on their stack: the
//!   evidence table of `fixtures/go/README.md` ("Relation evidence per form"), asserted here
//!   per form so that a Go release that changes it fails this test.
//!
//! `GOROSCOPE_SAVE_DUMPS=DIR` saves every form as `DIR/go<version>/<fixture>/<form file>`,
//! with the EXPECT of the process it came from beside it (`expect_<form>.json`).
//!
//! Needs the Go toolchains of `scripts/install-go.sh`; attach needs ptrace on our own
//! children (the default on Linux).

use goroscope_fixtures::relations::{relation_fixture_names, run_to_exit, save};
use goroscope_fixtures::{
    toolchain, Expect, ExpectMember, ExpectRelation, ExpectSite, Fixture, StartOptions, Toolchain,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

// ---------------------------------------------------------------------------------------
// Forms

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Form {
    Attach,
    /// `goroscope attach --pause`: every thread stopped, running goroutines' stacks read from
    /// their registers.
    AttachPause,
    Debug2,
    Debug1,
    Proto,
    System,
    Crash,
    /// The runtime's deadlock dump, GOTRACEBACK unset.
    Deadlock,
    DeadlockSystem,
    DeadlockCrash,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Attach => "attach",
            Form::AttachPause => "attach --pause",
            Form::Debug2 => "debug=2",
            Form::Debug1 => "debug=1",
            Form::Proto => "protobuf",
            Form::System => "SIGQUIT system",
            Form::Crash => "SIGQUIT crash",
            Form::Deadlock => "deadlock",
            Form::DeadlockSystem => "deadlock system",
            Form::DeadlockCrash => "deadlock crash",
        }
    }
    fn file(self) -> &'static str {
        match self {
            Form::Attach => "attach.json",
            Form::AttachPause => "attach_pause.json",
            Form::Debug2 => "goroutine_debug2.txt",
            Form::Debug1 => "goroutine_debug1.txt",
            Form::Proto => "goroutine_debug0.pb.gz",
            Form::System => "sigquit_system.txt",
            Form::Crash => "sigquit_crash.txt",
            Form::Deadlock => "deadlock.txt",
            Form::DeadlockSystem => "deadlock_system.txt",
            Form::DeadlockCrash => "deadlock_crash.txt",
        }
    }
    /// Tracebacks with runtime frames (`runtime.chansend(0xc…)`, `runtime.gopark`).
    fn system(self) -> bool {
        matches!(
            self,
            Form::System | Form::Crash | Form::DeadlockSystem | Form::DeadlockCrash
        )
    }
}

// ---------------------------------------------------------------------------------------
// A traceback reader of our own

#[derive(Debug, Clone, PartialEq)]
struct Word {
    value: u64,
    /// Printed with `?`: the runtime is not sure the value is current.
    uncertain: bool,
}

#[derive(Debug, Clone)]
struct TextFrame {
    function: String,
    /// `file:line` of the frame.
    pos: String,
    words: Vec<Word>,
}

#[derive(Debug, Clone)]
struct Block {
    goid: u64,
    /// The state before its first comma (`chan send` of `chan send, 5 minutes`).
    reason: String,
    frames: Vec<TextFrame>,
    created_by: Option<String>,
}

/// The goroutines of a text dump by goid (`goroutine 0`, a thread's g0 in crash dumps, left
/// out). A goroutine printed twice (crash dumps print a running goroutine in its thread's
/// section too) keeps its first block, unless that one had no frames (stack unavailable).
fn read_blocks(text: &str) -> HashMap<u64, Block> {
    let mut out: HashMap<u64, Block> = HashMap::new();
    let mut cur: Option<Block> = None;
    let mut lines = text.lines().peekable();
    let finish = |b: Option<Block>, out: &mut HashMap<u64, Block>| {
        if let Some(b) = b {
            if b.goid != 0 {
                // The goroutine list's entry stands unless it was "stack unavailable" (the
                // thread section may print the goroutine again mid-scheduling, as running).
                let keep = out
                    .get(&b.goid)
                    .is_none_or(|old| old.frames.is_empty() && !b.frames.is_empty());
                if keep {
                    out.insert(b.goid, b);
                }
            }
        }
    };
    while let Some(line) = lines.next() {
        if let Some(b) = header(line) {
            finish(cur.take(), &mut out);
            cur = Some(b);
            continue;
        }
        let Some(b) = cur.as_mut() else { continue };
        if line.trim().is_empty() {
            finish(cur.take(), &mut out);
            continue;
        }
        if let Some(rest) = line.strip_prefix("created by ") {
            let f = rest.split(" in goroutine ").next().unwrap_or(rest);
            b.created_by = Some(f.trim().to_string());
            lines.next(); // its position
            continue;
        }
        if line.starts_with('\t') || !line.ends_with(')') {
            continue;
        }
        let Some(open) = line.rfind('(') else {
            continue;
        };
        let function = line[..open].to_string();
        let words = words(&line[open + 1..line.len() - 1]);
        let pos = lines
            .peek()
            .filter(|l| l.starts_with('\t'))
            .map(|l| l.trim().split(' ').next().unwrap_or("").to_string())
            .unwrap_or_default();
        b.frames.push(TextFrame {
            function,
            pos,
            words,
        });
    }
    finish(cur, &mut out);
    out
}

/// `goroutine 7 [chan send]:`, `goroutine 7 gp=0xc… m=nil [chan send, 2 minutes]:`.
fn header(line: &str) -> Option<Block> {
    let rest = line.strip_prefix("goroutine ")?;
    let line = line.trim_end();
    if !line.ends_with("]:") {
        return None;
    }
    let goid: u64 = rest.split(' ').next()?.parse().ok()?;
    let open = line.find('[')?;
    let state = &line[open + 1..line.len() - 2];
    // `[chan receive (scan)]`: the GC was scanning its stack as the dump was written.
    let reason = state.split(',').next().unwrap_or(state).trim();
    let reason = reason.strip_suffix(" (scan)").unwrap_or(reason).to_string();
    Some(Block {
        goid,
        reason,
        frames: Vec::new(),
        created_by: None,
    })
}

/// The hexadecimal words of an argument list (`0xc0000a0000, {0x1?, 0x2}, ...`).
fn words(args: &str) -> Vec<Word> {
    args.split([',', '{', '}', ' '])
        .filter_map(|w| {
            let uncertain = w.ends_with('?');
            let w = w.trim_end_matches('?');
            let hex = w.strip_prefix("0x")?;
            u64::from_str_radix(hex, 16)
                .ok()
                .map(|value| Word { value, uncertain })
        })
        .collect()
}

/// 25 for `go1.25.5`.
fn go_minor(v: &str) -> u32 {
    v.trim_start_matches("go")
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("bad address {s:?} in EXPECT"))
}

// ---------------------------------------------------------------------------------------
// Evidence

/// How a waiting member's object shows among its frames' argument words, best last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Seen {
    /// Nowhere.
    Absent,
    /// Only among words printed with `?` (possibly stale register-ABI spill slots).
    Uncertain,
    /// The address of the struct the object is a field of (`main.(*Store).Get(0xc…)` for
    /// `store.mu`): the waiter is inside the owner's method; the field is a guess.
    Owner,
    /// An address inside the object (a semaphore field: `runtime.semacquire1(&rw.readerSem)`).
    Inside,
    /// The object's own address (`runtime.chansend(c, …)`, `sync.(*Mutex).lockSlow(m)`).
    Exact,
}

impl Seen {
    fn name(self) -> &'static str {
        match self {
            Seen::Absent => "absent",
            Seen::Uncertain => "uncertain",
            Seen::Owner => "owner",
            Seen::Inside => "inside",
            Seen::Exact => "exact",
        }
    }
}

/// Bytes past an object's address that still count as inside it (a sync.RWMutex is 24).
const INSIDE: u64 = 32;

/// What one form showed of one fixture's relations.
#[derive(Debug, Default, Clone)]
struct Evidence {
    members: usize,
    /// Found by goid in the state EXPECT gives.
    found: usize,
    /// Members that wait on an object, by how it showed.
    waits: BTreeMap<Seen, usize>,
    /// The frames the best evidence was found in (`runtime.chansend`, `main.parse`…).
    wait_frames: BTreeMap<String, usize>,
    /// Holders of a mutex with an owner, and those with the owner's address as a certain
    /// argument word (the holder is inside the owner's method, or was handed the owner).
    owners: usize,
    owners_found: usize,
}

impl Evidence {
    fn waiting(&self) -> usize {
        self.waits.values().sum()
    }
    /// Waiting members whose object shows at least at `level`.
    fn at_least(&self, level: Seen) -> usize {
        self.waits
            .iter()
            .filter(|(s, _)| **s >= level)
            .map(|(_, n)| n)
            .sum()
    }
    fn cell(&self) -> String {
        let mut s = String::new();
        if self.members > 0 {
            let _ = write!(s, "goids {}/{}", self.found, self.members);
        }
        if self.waiting() > 0 {
            let parts: Vec<String> = self
                .waits
                .iter()
                .rev()
                .map(|(k, n)| format!("{} {n}", k.name()))
                .collect();
            let _ = write!(s, " · objects {}", parts.join(", "));
        }
        if self.owners > 0 {
            let _ = write!(
                s,
                " · holders' owners {}/{}",
                self.owners_found, self.owners
            );
        }
        s
    }
}

/// A busy goroutine is running or runnable; the signal that writes a crash dump may also
/// catch it just preempted (`[preempted]`), still busy.
fn busy(reason: &str) -> bool {
    matches!(reason, "running" | "runnable" | "preempted")
}

fn state_ok(m: &ExpectMember, reason: &str) -> bool {
    if m.state == "running|runnable" {
        busy(reason)
    } else {
        reason == m.state
    }
}

fn text_evidence(rels: &[ExpectRelation], blocks: &HashMap<u64, Block>) -> (Evidence, Vec<String>) {
    let mut ev = Evidence::default();
    let mut bad = Vec::new();
    for r in rels {
        for m in &r.members {
            ev.members += 1;
            let Some(b) = blocks.get(&m.goid) else {
                bad.push(format!(
                    "{}: goroutine {} ({}) missing",
                    r.kind, m.goid, m.role
                ));
                continue;
            };
            if state_ok(m, &b.reason) {
                ev.found += 1;
            } else {
                bad.push(format!(
                    "{}: goroutine {} ({}) is [{}], EXPECT says [{}]",
                    r.kind, m.goid, m.role, b.reason, m.state
                ));
            }
            if let Some(addr) = &m.waits_on {
                let obj = hex(addr);
                let owner = r
                    .object(addr)
                    .and_then(|o| o.owner_addr.as_deref())
                    .map(hex);
                let mut best = (Seen::Absent, None);
                for f in &b.frames {
                    for w in &f.words {
                        let level = if w.value == obj {
                            Seen::Exact
                        } else if w.value > obj && w.value < obj + INSIDE {
                            Seen::Inside
                        } else if Some(w.value) == owner {
                            Seen::Owner
                        } else {
                            continue;
                        };
                        let level = if w.uncertain { Seen::Uncertain } else { level };
                        if level > best.0 {
                            best = (level, Some(f.function.clone()));
                        }
                    }
                }
                *ev.waits.entry(best.0).or_default() += 1;
                if let Some(f) = best.1 {
                    *ev.wait_frames.entry(f).or_default() += 1;
                }
            }
            for h in &m.holds {
                let Some(owner) = r.object(h).and_then(|o| o.owner_addr.as_deref()) else {
                    continue;
                };
                ev.owners += 1;
                let owner = hex(owner);
                if b.frames
                    .iter()
                    .any(|f| f.words.iter().any(|w| w.value == owner && !w.uncertain))
                {
                    ev.owners_found += 1;
                }
            }
        }
    }
    (ev, bad)
}

/// The sites of EXPECT in a text dump: count, wait reason and creator.
fn text_sites(sites: &[ExpectSite], blocks: &HashMap<u64, Block>) -> Vec<String> {
    let mut bad = Vec::new();
    for s in sites {
        let n = blocks
            .values()
            .filter(|b| {
                let reason_ok = if s.busy {
                    busy(&b.reason)
                } else {
                    b.reason == s.wait_reason
                };
                let creator_ok = s
                    .created_by_function
                    .as_ref()
                    .is_none_or(|c| b.created_by.as_deref() == Some(c.as_str()));
                // A plain SIGQUIT prints a goroutine running on another thread as "stack
                // unavailable" (GOTRACEBACK=crash prints it in its thread's section).
                let unavailable = s.busy && b.reason == "running" && b.frames.is_empty();
                reason_ok
                    && creator_ok
                    && (unavailable
                        || b.frames.iter().any(|f| {
                            f.function == s.function
                                && s.line.is_none_or(|l| {
                                    f.pos.ends_with(&format!("/{}:{l}", s.file))
                                        || f.pos == format!("{}:{l}", s.file)
                                })
                        }))
            })
            .count() as u64;
        if n != s.count {
            bad.push(format!(
                "site {s}: {n} goroutines in the dump, EXPECT says {}",
                s.count
            ));
        }
    }
    bad
}

/// Sites keyed by blocking function and line: forms without states or creators (debug=1,
/// protobuf) can only count goroutines per stack, so sites that block at one place are summed.
fn site_sums(sites: &[ExpectSite]) -> BTreeMap<(String, Option<u32>), u64> {
    let mut m = BTreeMap::new();
    for s in sites {
        *m.entry((s.function.clone(), s.line)).or_default() += s.count;
    }
    m
}

/// `debug=1`: `N @ 0x…` records, each with `#\t0x…\tfunction+0x…\tfile:line` frames.
fn debug1_sites(sites: &[ExpectSite], text: &str) -> Vec<String> {
    let mut records: Vec<(u64, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        if let Some((n, _)) = line.split_once(" @ ") {
            if let Ok(n) = n.trim().parse() {
                records.push((n, Vec::new()));
                continue;
            }
        }
        if let (Some(rest), Some(r)) = (line.strip_prefix("#\t"), records.last_mut()) {
            let mut it = rest.split('\t').filter(|f| !f.is_empty());
            let (_pc, func, pos) = (it.next(), it.next(), it.next());
            if let (Some(func), Some(pos)) = (func, pos) {
                let func = func.rsplit_once("+0x").map_or(func, |(f, _)| f);
                r.1.push((func.to_string(), pos.trim().to_string()));
            }
        }
    }
    let mut bad = Vec::new();
    for ((function, line), want) in site_sums(sites) {
        let got: u64 = records
            .iter()
            .filter(|(_, frames)| {
                frames.iter().any(|(f, pos)| {
                    *f == function && line.is_none_or(|l| pos.ends_with(&format!(":{l}")))
                })
            })
            .map(|(n, _)| n)
            .sum();
        if got != want {
            bad.push(format!(
                "debug=1: {got} goroutines at {function}:{line:?}, EXPECT says {want}"
            ));
        }
    }
    bad
}

fn proto_sites(sites: &[ExpectSite], bytes: &[u8]) -> Vec<String> {
    let p = goroscope_pprof::decode(bytes).expect("a goroutine profile");
    let funcs: HashMap<u64, String> = p
        .function
        .iter()
        .map(|f| (f.id, p.string(f.name).unwrap_or_default().into_owned()))
        .collect();
    let locs: HashMap<u64, Vec<(String, i64)>> = p
        .location
        .iter()
        .map(|l| {
            (
                l.id,
                l.line
                    .iter()
                    .map(|ln| {
                        (
                            funcs.get(&ln.function_id).cloned().unwrap_or_default(),
                            ln.line,
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let mut bad = Vec::new();
    for ((function, line), want) in site_sums(sites) {
        let got: i64 = p
            .sample
            .iter()
            .filter(|s| {
                s.location_id.iter().any(|id| {
                    locs.get(id).is_some_and(|ls| {
                        ls.iter().any(|(f, l)| {
                            *f == function && line.is_none_or(|want| *l == i64::from(want))
                        })
                    })
                })
            })
            .map(|s| s.value.first().copied().unwrap_or(0))
            .sum();
        if got != want as i64 {
            bad.push(format!(
                "protobuf: {got} goroutines at {function}:{line:?}, EXPECT says {want}"
            ));
        }
    }
    bad
}

/// `goroscope attach PID -o json`: groups with goids, states and stacks (no arguments).
fn attach_evidence(e: &Expect, json: &serde_json::Value, paused: bool) -> (Evidence, Vec<String>) {
    let groups = json["groups"].as_array().cloned().unwrap_or_default();
    let mut bad = Vec::new();
    // The report names WaitGroup waits `sync.WaitGroup.Wait` whatever the release prints
    // (`semacquire` before Go 1.25).
    let reason_of = |g: &serde_json::Value| -> String {
        let st = g["status"].as_str().unwrap_or("");
        let r = if st == "running" || st == "runnable" {
            st
        } else {
            g["wait_reason"].as_str().unwrap_or(st)
        };
        if r == "sync.WaitGroup.Wait" && go_minor(&e.go_version) < 25 {
            "semacquire".to_string()
        } else {
            r.to_string()
        }
    };
    for s in &e.sites {
        let n: u64 = groups
            .iter()
            .filter(|g| {
                let r = reason_of(g);
                let reason_ok = if s.busy {
                    r == "running" || r == "runnable"
                } else {
                    r == s.wait_reason
                };
                let creator_ok = s
                    .created_by_function
                    .as_ref()
                    .is_none_or(|c| g["created_by"]["function"].as_str() == Some(c.as_str()));
                let stack = g["stack"].as_array().cloned().unwrap_or_default();
                let frame_ok = stack.iter().any(|f| {
                    f["function"].as_str() == Some(s.function.as_str())
                        && s.line
                            .is_none_or(|l| f["line"].as_u64() == Some(u64::from(l)))
                });
                // Without --pause a running goroutine's stack is not read (its saved
                // registers are stale while it runs).
                let frame_ok = frame_ok || (s.busy && !paused && stack.is_empty());
                reason_ok && creator_ok && frame_ok
            })
            .map(|g| g["count"].as_u64().unwrap_or(0))
            .sum();
        if n != s.count {
            bad.push(format!(
                "attach: site {s}: {n} goroutines, EXPECT says {}",
                s.count
            ));
        }
    }
    let mut ev = Evidence::default();
    for r in &e.relations {
        for m in &r.members {
            ev.members += 1;
            let g = groups.iter().find(|g| {
                g["goids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| i.as_u64() == Some(m.goid)))
            });
            match g {
                Some(g) if state_ok(m, &reason_of(g)) => ev.found += 1,
                Some(g) => bad.push(format!(
                    "attach: {}: goroutine {} is [{}], EXPECT says [{}]",
                    r.kind,
                    m.goid,
                    reason_of(g),
                    m.state
                )),
                None => bad.push(format!("attach: {}: goroutine {} missing", r.kind, m.goid)),
            }
        }
    }
    (ev, bad)
}

// ---------------------------------------------------------------------------------------
// Taking the forms

struct Taken {
    form: Form,
    expect: Expect,
    bytes: Vec<u8>,
}

fn keep(tc: &Toolchain, name: &str, t: &Taken) {
    let dir = format!("go{}/{}", tc.version, name.trim_start_matches("relations/"));
    save(format!("{dir}/{}", t.form.file()), &t.bytes);
    let tag = t.form.file().split('.').next().unwrap_or("form");
    save(
        format!("{dir}/expect_{tag}.json"),
        serde_json::to_string_pretty(&t.expect).unwrap().as_bytes(),
    );
}

fn attach(pid: u32, pause: bool) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_goroscope"));
    cmd.args(["attach", &pid.to_string(), "-o", "json"]);
    if pause {
        cmd.arg("--pause");
    }
    let out = cmd.output().expect("running goroscope attach");
    // 0: nothing found, 1: findings; anything else is an error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "goroscope attach {pid}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn take(tc: &Toolchain, name: &str) -> Vec<Taken> {
    let mut out = Vec::new();
    if name == "relations/runtime-deadlock" {
        for (form, tb) in [
            (Form::Deadlock, None),
            (Form::DeadlockSystem, Some("system")),
            (Form::DeadlockCrash, Some("crash")),
        ] {
            let opts = StartOptions {
                env: tb
                    .map(|t| vec![("GOTRACEBACK".to_string(), t.to_string())])
                    .unwrap_or_default(),
                ..Default::default()
            };
            let x = run_to_exit(name, tc, &opts);
            assert!(
                x.stderr
                    .contains("fatal error: all goroutines are asleep - deadlock!"),
                "{name} go{} {}: no deadlock declared ({}):\n{}",
                tc.version,
                form.name(),
                x.status,
                x.stderr
            );
            if form == Form::DeadlockCrash {
                assert_eq!(x.status.signal(), Some(libc_sigabrt()), "{}", x.status);
            } else {
                assert_eq!(x.status.code(), Some(2), "{}", x.status);
            }
            out.push(Taken {
                form,
                expect: x.expect,
                bytes: x.stderr.into_bytes(),
            });
        }
        return out;
    }
    // One process for attach and the HTTP forms (attach first: an idle keep-alive pprof
    // connection would add a server goroutine of its own)…
    let mut fx = Fixture::start(name, tc, &StartOptions::default());
    let e = fx.expect.clone();
    for (form, pause) in [(Form::Attach, false), (Form::AttachPause, true)] {
        out.push(Taken {
            form,
            expect: e.clone(),
            bytes: attach(fx.pid(), pause),
        });
    }
    for (form, q) in [(Form::Debug2, 2), (Form::Debug1, 1), (Form::Proto, 0)] {
        let bytes = fx
            .fetch(&format!("/debug/pprof/goroutine?debug={q}"))
            .unwrap_or_else(|err| panic!("{name} go{}: {err}", tc.version));
        out.push(Taken {
            form,
            expect: e.clone(),
            bytes,
        });
    }
    drop(fx);
    // …and a fresh process for each SIGQUIT dump.
    for (form, tb) in [(Form::System, "system"), (Form::Crash, "crash")] {
        let fx = Fixture::start(
            name,
            tc,
            &StartOptions {
                env: vec![("GOTRACEBACK".into(), tb.into())],
                ..Default::default()
            },
        );
        let expect = fx.expect.clone();
        let text = fx.sigquit();
        assert!(text.contains("SIGQUIT: quit"), "{name} {tb}: {text}");
        out.push(Taken {
            form,
            expect,
            bytes: text.into_bytes(),
        });
    }
    out
}

fn libc_sigabrt() -> i32 {
    6 // SIGABRT on Linux
}

// ---------------------------------------------------------------------------------------
// What each form must carry (the README's table)

/// What a form shows, on every installed release, of the objects a fixture's waiting
/// members wait on: at least `.1` of them at `.0` or better (the README's table, "Relation
/// evidence per form"). `minor` is the Go release's (25 for go1.25.5).
fn promise(fixture: &str, form: Form, minor: u32) -> (Seen, Count) {
    let fixture = fixture.trim_start_matches("relations/");
    if form.system() {
        // runtime.chansend/chanrecv(c), (*Mutex).lockSlow(m) take the object; RWMutex waits
        // show only its semaphore fields (semacquire1(&rw.writerSem)), WaitGroup waits did so
        // before Go 1.25 (from 1.25 (*WaitGroup).Wait(wg) prints the WaitGroup itself).
        let level = match fixture {
            "rw-starved" => Seen::Inside,
            "wg-self" | "runtime-deadlock" if minor < 25 => Seen::Inside,
            _ => Seen::Exact,
        };
        return (level, Count::All);
    }
    match (form, fixture) {
        // (*Mutex).lockSlow(m) is shown in user tracebacks, with its receiver.
        (Form::Debug2, "lock-chain" | "lock-order") => (Seen::Exact, Count::All),
        // The stages get their channels as arguments (main's are locals); Go 1.21 prints
        // them stale (`main.parse(0x0?, 0x0?)`).
        (Form::Debug2, "deadlock-pipeline") if minor >= 23 => (Seen::Exact, Count::AtLeast(3)),
        // Put/Get show the store, the RWMutex's owner, as their receiver.
        (Form::Debug2, "rw-starved") => (Seen::Owner, Count::All),
        // From Go 1.25 (*WaitGroup).Wait(wg) is certain; before, the workers have the
        // WaitGroup as their argument and the coordinator shows nothing certain.
        (Form::Debug2, "wg-self") if minor >= 25 => (Seen::Exact, Count::All),
        (Form::Debug2, "wg-self") => (Seen::Exact, Count::AtLeast(3)),
        (Form::Deadlock, "runtime-deadlock") if minor >= 25 => (Seen::Exact, Count::All),
        (Form::Deadlock, "runtime-deadlock") if minor >= 23 => (Seen::Exact, Count::AtLeast(3)),
        _ => (Seen::Absent, Count::All),
    }
}

/// How many waiting members a promise covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    All,
    AtLeast(usize),
}

/// Whether a form shows, for every holder of a mutex that is a struct field, the struct's
/// address as a certain argument word (the holder is inside the owner's method, or was
/// handed the owner). rw-starved's readers print their receiver stale (`Scan(0x0?)`); a
/// plain SIGQUIT prints a goroutine running on another thread without its stack.
fn promise_owners(fixture: &str, form: Form) -> bool {
    matches!(
        (fixture.trim_start_matches("relations/"), form),
        ("lock-chain", Form::Debug2 | Form::Crash)
            | ("lock-order", Form::Debug2 | Form::System | Form::Crash)
    )
}

// ---------------------------------------------------------------------------------------

fn run_toolchain(version: &str) {
    let tc = toolchain(version);
    let mut bad = Vec::new();
    let mut table = String::new();
    for name in relation_fixture_names() {
        let t0 = std::time::Instant::now();
        for t in take(&tc, &name) {
            keep(&tc, &name, &t);
            let tag = format!("{name} go{version} {}", t.form.name());
            let e = &t.expect;
            let (ev, problems) = match t.form {
                Form::Attach | Form::AttachPause => {
                    let json: serde_json::Value = serde_json::from_slice(&t.bytes)
                        .unwrap_or_else(|err| panic!("{tag}: not JSON ({err})"));
                    attach_evidence(e, &json, t.form == Form::AttachPause)
                }
                Form::Debug1 => (
                    Evidence::default(),
                    debug1_sites(&e.sites, &String::from_utf8_lossy(&t.bytes)),
                ),
                Form::Proto => (Evidence::default(), proto_sites(&e.sites, &t.bytes)),
                _ => {
                    let text = String::from_utf8_lossy(&t.bytes);
                    let blocks = read_blocks(&text);
                    let mut p = text_sites(&e.sites, &blocks);
                    let (ev, q) = text_evidence(&e.relations, &blocks);
                    p.extend(q);
                    // What the README promises for this form.
                    let (level, count) = promise(&name, t.form, tc.minor());
                    let want = match count {
                        Count::All => ev.waiting(),
                        Count::AtLeast(n) => n,
                    };
                    if ev.at_least(level) < want {
                        p.push(format!(
                            "the README promises {want} wait objects at least as {}: {}",
                            level.name(),
                            ev.cell()
                        ));
                    }
                    if promise_owners(&name, t.form) && ev.owners_found != ev.owners {
                        p.push(format!(
                            "{} of {} holders show their mutex's owner as a certain argument word",
                            ev.owners_found, ev.owners
                        ));
                    }
                    (ev, p)
                }
            };
            let _ = writeln!(
                table,
                "{:<32} {:<16} {} {:?}",
                name,
                t.form.name(),
                ev.cell(),
                ev.wait_frames
            );
            bad.extend(problems.into_iter().map(|p| format!("{tag}: {p}")));
        }
        eprintln!("go{version} {name}: {:.1?}", t0.elapsed());
    }
    eprintln!("go{version} evidence per form:\n{table}");
    assert!(
        bad.is_empty(),
        "go{version}: {} problem(s):\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn go_1_21() {
    run_toolchain("1.21.13");
}

#[test]
fn go_1_23() {
    run_toolchain("1.23.9");
}

#[test]
fn go_1_25() {
    run_toolchain("1.25.5");
}

#[test]
fn go_1_27() {
    run_toolchain("1.27.3");
}

/// The reader and the checks can fail: a real dump against deliberately wrong expectations.
#[test]
fn checks_catch_wrong_expectations() {
    let dump = "goroutine 1 [chan send]:\nmain.main()\n\t/x/main.go:10 +0x1\n\n\
goroutine 7 gp=0xc000002380 m=nil [sync.Mutex.Lock, 3 minutes]:\n\
runtime.gopark(0x1?, 0x2?)\n\t/go/src/runtime/proc.go:1 +0x1\n\
sync.(*Mutex).lockSlow(0xc000095958)\n\t/go/src/sync/mutex.go:1 +0x1\n\
main.(*Cache).Get(0xc000095950, {0xc0000ac370?, 0x5})\n\t/x/main.go:63 +0x1\n\
created by main.main in goroutine 1\n\t/x/main.go:100 +0x1\n";
    let blocks = read_blocks(dump);
    assert_eq!(blocks.len(), 2);
    let b = &blocks[&7];
    assert_eq!(b.reason, "sync.Mutex.Lock");
    assert_eq!(b.created_by.as_deref(), Some("main.main"));
    assert_eq!(b.frames[2].function, "main.(*Cache).Get");
    assert_eq!(
        b.frames[2].words,
        vec![
            Word {
                value: 0xc000095950,
                uncertain: false
            },
            Word {
                value: 0xc0000ac370,
                uncertain: true
            },
            Word {
                value: 5,
                uncertain: false
            },
        ]
    );
    let rel = |state: &str, waits: &str| ExpectRelation {
        kind: "lock-chain".into(),
        members: vec![ExpectMember {
            goid: 7,
            role: "waiter".into(),
            function: "main.(*Cache).Get".into(),
            state: state.into(),
            op: "lock".into(),
            waits_on: Some(waits.into()),
            holds: vec![],
        }],
        ..Default::default()
    };
    let (ev, bad) = text_evidence(&[rel("sync.Mutex.Lock", "0xc000095958")], &blocks);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!((ev.found, ev.waits.get(&Seen::Exact)), (1, Some(&1)));
    // An address a few bytes past the object (a semaphore field) is inside it; the owner's
    // address is the owner; a word with `?` is uncertain.
    let mut inside = rel("sync.Mutex.Lock", "0xc000095950");
    inside.objects = vec![goroscope_fixtures::ExpectObject {
        addr: "0xc000095950".into(),
        ..Default::default()
    }];
    let (ev, _) = text_evidence(&[inside], &blocks);
    assert_eq!(
        ev.waits.get(&Seen::Exact),
        Some(&1),
        "the receiver is the same word"
    );
    let mut owned = rel("sync.Mutex.Lock", "0xc000095a00");
    owned.objects = vec![goroscope_fixtures::ExpectObject {
        addr: "0xc000095a00".into(),
        owner_addr: Some("0xc000095950".into()),
        ..Default::default()
    }];
    let (ev, _) = text_evidence(&[owned], &blocks);
    assert_eq!(ev.waits.get(&Seen::Owner), Some(&1), "{ev:?}");
    let (ev, _) = text_evidence(&[rel("sync.Mutex.Lock", "0xc000095940")], &blocks);
    assert_eq!(ev.waits.get(&Seen::Inside), Some(&1), "{ev:?}");
    let (ev, _) = text_evidence(&[rel("sync.Mutex.Lock", "0xc0000ac370")], &blocks);
    assert_eq!(ev.waits.get(&Seen::Uncertain), Some(&1), "{ev:?}");
    assert_eq!(
        (ev.at_least(Seen::Uncertain), ev.at_least(Seen::Owner)),
        (1, 0)
    );
    // A wrong state, a wrong object.
    let (ev, bad) = text_evidence(&[rel("chan receive", "0xc000095990")], &blocks);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!((ev.found, ev.waits.get(&Seen::Absent)), (0, Some(&1)));
    // A site with the wrong count or line.
    let site: ExpectSite = serde_json::from_str(
        r#"{"pattern":"lock-chain","leak":true,"count":1,"function":"main.(*Cache).Get","file":"main.go","line":63,"wait_reason":"sync.Mutex.Lock","created_by_function":"main.main","provable":false}"#,
    )
    .unwrap();
    assert!(text_sites(std::slice::from_ref(&site), &blocks).is_empty());
    let mut wrong = site.clone();
    wrong.line = Some(64);
    assert_eq!(text_sites(&[wrong], &blocks).len(), 1);
    let mut wrong = site;
    wrong.count = 2;
    assert_eq!(text_sites(&[wrong], &blocks).len(), 1);
}
