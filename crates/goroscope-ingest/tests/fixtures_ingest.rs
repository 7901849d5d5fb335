//! Every reader against real Go programs: each fixture of `fixtures/go` (one leak pattern, a
//! healthy service, a mix, odd shapes), built with every installed Go release, dumped in every form the
//! runtime has, read with [`goroscope_ingest::read_reader`] and compared with what the program
//! says about itself on its EXPECT line (see `goroscope_fixtures::Expect`).
//!
//! Forms: pprof `goroutine` debug=2, debug=1 and debug=0 (protobuf); on Go 1.27+ the
//! `goroutineleak` profile as debug=1, debug=0 and debug=2; the runtime's SIGQUIT dump (from a
//! fresh process); a `GOTRACEBACK=all` panic. On Go 1.27+ the text forms run again with
//! `GODEBUG=tracebacklabels=1` (labels in traceback headers; debug=1 and protobuf carry labels
//! either way). `mixed` and `odd-shapes` also run from a `-trimpath` build.
//!
//! For each form: one snapshot of the right format and profile kind; the goroutine total
//! equals the program's own `runtime.NumGoroutine()` plus exactly what the dump machinery adds
//! (named below); every expected site appears with its count, and where the form carries them
//! with its wait reason, creator (function and line), pprof labels, leak proof, locked thread
//! and elision. Across forms, each site's stacks must be the same frame by frame (the text,
//! debug=1 and protobuf readers agree).
//!
//! What the dump machinery adds, by form:
//! * `/debug/pprof/...` over the harness's one keep-alive connection: that connection's
//!   `net/http.(*conn).serve` goroutine (running the handler) and its
//!   `net/http.(*connReader).backgroundRead` ([`HTTP_MACHINERY`] = 2);
//! * SIGQUIT: the runtime prints its own goroutines too (traceback level 2): every goroutine
//!   created by the runtime
//!   (`created by runtime.…`: GC workers, sweeper, scavenger, finalizer and cleanup goroutines,
//!   forcegc helper; and on Go 1.23–1.24 package unique's map cleanup goroutine);
//! * panic: nothing (the panicking main goroutine is the program's own);
//! * goroutineleak debug=0/1 (Go 1.27): only proven leaks, plus one record with an empty stack
//!   and count 1: the runtime counts the main goroutine parked in `select {}` (every fixture's
//!   main after READY) among the leaks but leaves it out of the report.
//!
//! Needs the Go releases of `scripts/install-go.sh`; a missing one fails its test loudly.
//! A failing input is saved under `$TMPDIR/goroscope-fixtures-failures/` (path in the message).

use goroscope_fixtures::{
    fixture_names, run_panic, toolchain, toolchains, Expect, ExpectSite, Fixture, StartOptions,
    Toolchain, HTTP_MACHINERY,
};
use goroscope_ingest::{read_reader, Options};
use goroscope_model::{Context, Elision, Entry, Format, ProfileKind, Snapshot};

mod text_common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Debug2,
    Debug1,
    Proto,
    LeakDebug1,
    LeakProto,
    LeakDebug2,
    Sigquit,
    Panic,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Debug2 => "goroutine-debug2",
            Form::Debug1 => "goroutine-debug1",
            Form::Proto => "goroutine-debug0",
            Form::LeakDebug1 => "goroutineleak-debug1",
            Form::LeakProto => "goroutineleak-debug0",
            Form::LeakDebug2 => "goroutineleak-debug2",
            Form::Sigquit => "sigquit",
            Form::Panic => "panic",
        }
    }
    fn path(self) -> Option<&'static str> {
        Some(match self {
            Form::Debug2 => "/debug/pprof/goroutine?debug=2",
            Form::Debug1 => "/debug/pprof/goroutine?debug=1",
            Form::Proto => "/debug/pprof/goroutine?debug=0",
            Form::LeakDebug1 => "/debug/pprof/goroutineleak?debug=1",
            Form::LeakProto => "/debug/pprof/goroutineleak?debug=0",
            Form::LeakDebug2 => "/debug/pprof/goroutineleak?debug=2",
            Form::Sigquit | Form::Panic => return None,
        })
    }
    fn ext(self) -> &'static str {
        match self {
            Form::Proto | Form::LeakProto => "pb.gz",
            _ => "txt",
        }
    }
    /// Per-goroutine text with headers: wait reasons, creators, ids.
    fn text(self) -> bool {
        matches!(
            self,
            Form::Debug2 | Form::LeakDebug2 | Form::Sigquit | Form::Panic
        )
    }
    /// Shows every frame (traceback level 2), including the wrapper of a `go` statement that
    /// ordinary tracebacks and pprof hide.
    fn all_frames(self) -> bool {
        self == Form::Sigquit
    }
    /// Only the goroutines the runtime proved leaked.
    fn leak_only(self) -> bool {
        matches!(self, Form::LeakDebug1 | Form::LeakProto)
    }
    fn format(self) -> Format {
        match self {
            Form::Debug2 | Form::LeakDebug2 => Format::Debug2,
            Form::Debug1 | Form::LeakDebug1 => Format::Debug1,
            Form::Proto | Form::LeakProto => Format::Proto,
            Form::Sigquit | Form::Panic => Format::Traceback,
        }
    }
    fn kind(self) -> ProfileKind {
        if self.leak_only() {
            ProfileKind::GoroutineLeak
        } else {
            // goroutineleak?debug=2 is runtime.Stack of every goroutine, leaked ones marked:
            // nothing in the text says which profile it came from.
            ProfileKind::Goroutine
        }
    }
    /// Whether this form shows pprof labels in this run.
    fn shows_labels(self, tc: &Toolchain, traceback_labels: bool) -> bool {
        if self.text() {
            tc.has_traceback_labels() && traceback_labels
        } else {
            true
        }
    }
}

/// One run's context, for messages and saved inputs.
struct Case<'a> {
    tc: &'a Toolchain,
    fixture: &'a str,
    labels: bool,
    trimpath: bool,
    /// Save failing inputs (off for the deliberate failures of `checks_catch_wrong_expectations`).
    save: bool,
}

impl Case<'_> {
    fn id(&self, form: Form) -> String {
        format!(
            "go{} {} {}{}",
            self.tc.version,
            self.fixture,
            form.name(),
            if self.labels {
                " (tracebacklabels=1)"
            } else {
                ""
            }
        )
    }
    fn save(&self, form: Form, bytes: &[u8]) -> Option<PathBuf> {
        if !self.save {
            return None;
        }
        let dir = std::env::temp_dir().join("goroscope-fixtures-failures");
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!(
            "go{}-{}-{}{}{}.{}",
            self.tc.version,
            self.fixture,
            form.name(),
            if self.labels { "-labels" } else { "" },
            if self.trimpath { "-trimpath" } else { "" },
            form.ext()
        ));
        std::fs::write(&file, bytes).ok()?;
        Some(file)
    }
}

/// The base name of a file as a dump prints it (absolute, -trimpath or module path).
fn base(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// Whether an entry's stack has the site's blocking frame.
fn at_site(s: &Snapshot, e: &Entry<'_>, site: &ExpectSite) -> bool {
    s.stack(e.stack).iter().any(|&f| {
        let fr = s.frame_site(f);
        fr.function == site.function
            && base(fr.file) == site.file
            && site.line.is_none_or(|l| fr.line == l)
    })
}

fn labels_of(s: &Snapshot, e: &Entry<'_>) -> BTreeMap<String, String> {
    s.labels(e.labels)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Goroutines of the runtime itself, which only the SIGQUIT dump shows: those created by the
/// runtime, and (Go 1.23–1.24) package unique's map cleanup goroutine, which the runtime also
/// counts as its own. (The `goroutine 0` g0 stack it prints is a system stack, not counted.)
fn runtime_goroutines(s: &Snapshot) -> u64 {
    s.goroutines
        .iter()
        .filter(|g| {
            g.created_by.is_some_and(|f| {
                let creator = s.function(f);
                creator.starts_with("runtime.")
                    || creator == "unique.runtime_registerUniqueMapCleanup"
            })
        })
        .count() as u64
}

/// Checks one dump against the expectation; returns what is wrong.
fn check(case: &Case<'_>, form: Form, bytes: &[u8], exp: &Expect) -> Vec<String> {
    check_collect(case, form, bytes, exp, &mut Vec::new())
}

/// The distinct stacks of one site in one form: `function file:line` per frame, innermost
/// first, without the frames only some forms show: `runtime.` frames (gopark, chanrecv,
/// goexit: hidden in debug=2 and panics, shown at SIGQUIT's level 2 and in pprof) and
/// `<autogenerated>` wrappers (hidden in every traceback, kept by pprof).
type SiteStacks = Vec<(Form, usize, BTreeSet<Vec<String>>)>;
/// The first form of a family and its stacks.
type Family<'a> = (Form, &'a BTreeSet<Vec<String>>);

/// Compare at most this many innermost frames: deep stacks are elided in tracebacks (50
/// innermost kept) and cut in pprof (32 frames with the runtime's before Go 1.23).
const COMPARED_FRAMES: usize = 24;

fn user_stack(s: &Snapshot, e: &Entry<'_>) -> Vec<String> {
    s.stack(e.stack)
        .iter()
        .map(|&f| s.frame_site(f))
        .filter(|f| !f.function.starts_with("runtime.") && f.file != "<autogenerated>")
        .map(|f| format!("{} {}:{}", f.function, base(f.file), f.line))
        .take(COMPARED_FRAMES)
        .collect()
}

/// Every form of the same binary must show each site with the same stacks, frame by frame:
/// debug=2, panics, debug=1 and protobuf (text, debug=1 and protobuf readers agree), and
/// SIGQUIT too but for the wrapper of a `go` statement that only its traceback level 2 shows
/// (the outermost frame, `main.main.gowrap1`, or `funcN` before Go 1.22).
fn compare_stacks(case: &Case<'_>, exp: &Expect, stacks: &SiteStacks) -> Vec<String> {
    let mut bad = Vec::new();
    for (i, site) in exp.sites.iter().enumerate() {
        let of_site: Vec<_> = stacks.iter().filter(|(_, j, _)| *j == i).collect();
        let mut families: [Option<Family<'_>>; 2] = [None, None];
        for (form, _, got) in &of_site {
            let family = &mut families[usize::from(form.all_frames())];
            match family {
                None => *family = Some((*form, got)),
                Some((first, want)) if *want != got => bad.push(format!(
                    "go{} {}: {site}: stacks differ between {} and {}:\n      {:?}\n      {:?}",
                    case.tc.version,
                    case.fixture,
                    first.name(),
                    form.name(),
                    want,
                    got
                )),
                Some(_) => {}
            }
        }
        if let [Some((hf, hidden)), Some((sf, shown))] = families {
            // hidden: the forms without go-statement wrappers; shown: SIGQUIT.
            let covers =
                |t: &Vec<String>, p: &Vec<String>| p.starts_with(t) && p.len() - t.len() <= 1;
            let ok = hidden.iter().all(|t| shown.iter().any(|p| covers(t, p)))
                && shown.iter().all(|p| hidden.iter().any(|t| covers(t, p)));
            if !ok {
                bad.push(format!(
                    "go{} {}: {site}: {} and {} disagree beyond a go-statement wrapper:\n      {:?}\n      {:?}",
                    case.tc.version,
                    case.fixture,
                    hf.name(),
                    sf.name(),
                    hidden,
                    shown
                ));
            }
        }
    }
    bad
}

fn check_collect(
    case: &Case<'_>,
    form: Form,
    bytes: &[u8],
    exp: &Expect,
    stacks: &mut SiteStacks,
) -> Vec<String> {
    let id = case.id(form);
    let mut bad = Vec::new();
    let snaps = match read_reader(&id, bytes, &Options::default()) {
        Ok(s) => s,
        Err(e) => return vec![format!("{id}: read error: {e}")],
    };
    if snaps.len() != 1 {
        return vec![format!("{id}: {} snapshots, want 1", snaps.len())];
    }
    let s = &snaps[0];
    if s.source.format != form.format() || s.source.kind != form.kind() {
        bad.push(format!(
            "format {:?}/{:?}, want {:?}/{:?}",
            s.source.format,
            s.source.kind,
            form.format(),
            form.kind()
        ));
    }
    if s.truncated {
        bad.push("marked truncated".into());
    }
    for w in &s.warnings {
        bad.push(format!("warning: {w}"));
    }

    // Totals.
    let total = s.total_goroutines();
    let provable: u64 = exp
        .sites
        .iter()
        .filter(|x| x.provable)
        .map(|x| x.count)
        .sum();
    let want = match form {
        Form::Debug2 | Form::Debug1 | Form::Proto | Form::LeakDebug2 => exp.total + HTTP_MACHINERY,
        Form::Panic => exp.total,
        Form::Sigquit => exp.total + runtime_goroutines(s),
        // One empty-stack record for main's `select {}` (see the module docs).
        Form::LeakDebug1 | Form::LeakProto => provable + 1,
    };
    if total != want {
        bad.push(format!("{total} goroutines, want {want}"));
    }
    if matches!(form, Form::Debug1 | Form::LeakDebug1) && s.declared_total != Some(total) {
        bad.push(format!(
            "declared total {:?} but {total} goroutines read",
            s.declared_total
        ));
    }
    if form.leak_only() {
        let empty: Vec<u64> = s
            .entries()
            .filter(|e| s.stack(e.stack).is_empty())
            .map(|e| e.count)
            .collect();
        if empty != [1] {
            bad.push(format!(
                "empty-stack entries {empty:?}, want one of count 1 (main's select {{}})"
            ));
        }
    }
    if form.text() && s.goroutines.is_empty() {
        bad.push("no per-goroutine detail".into());
    }
    // The first line of a crash, and what only crash headers carry.
    let want_reason = match form {
        Form::Sigquit => Some("SIGQUIT: quit".to_owned()),
        Form::Panic => Some(format!("panic: fixture {}: FIXTURE_PANIC=1", case.fixture)),
        _ => None,
    };
    if s.reason != want_reason {
        bad.push(format!("reason {:?}, want {want_reason:?}", s.reason));
    }
    // A crash report says what the moment was; a dump read from bytes (not a URL) does not.
    let want_context = match form {
        Form::Sigquit | Form::Panic => Some(Context::Crash),
        _ => None,
    };
    if s.context != want_context {
        bad.push(format!("context {:?}, want {want_context:?}", s.context));
    }
    // Frame argument words: what the slow reading of the same text keeps.
    if form.text() {
        text_common::check_args(&case.id(form), &String::from_utf8_lossy(bytes), &snaps);
    }
    for g in &s.goroutines {
        // `gp=0x… m=…` is printed at traceback level 2 (SIGQUIT) since Go 1.23, never otherwise.
        let want_gp = form == Form::Sigquit && case.tc.minor() >= 23;
        if want_gp != g.gp.is_some() {
            bad.push(format!(
                "goroutine {}: gp {:?} in a {} dump",
                g.goid,
                g.gp,
                form.name()
            ));
            break;
        }
        // Every fixture is younger than the first GC that could stamp a wait time.
        if g.wait_minutes.is_some() {
            bad.push(format!(
                "goroutine {}: wait minutes {:?}",
                g.goid, g.wait_minutes
            ));
            break;
        }
        if g.created_by.is_some() && g.creator_goid.is_none() {
            bad.push(format!(
                "goroutine {}: created by, but no creator goid",
                g.goid
            ));
            break;
        }
    }

    // Sites.
    let shows_labels = form.shows_labels(case.tc, case.labels);
    for site in &exp.sites {
        let entries: Vec<Entry<'_>> = s.entries().filter(|e| at_site(s, e, site)).collect();
        if !entries.is_empty() {
            let site_index = exp.sites.iter().position(|x| x == site).unwrap_or(0);
            stacks.push((
                form,
                site_index,
                entries.iter().map(|e| user_stack(s, e)).collect(),
            ));
        }
        let n: u64 = entries.iter().map(|e| e.count).sum();
        let want = if form.leak_only() && !site.provable {
            0
        } else {
            site.count
        };
        if n != want {
            bad.push(format!("{site}: {n} goroutines, want {want}"));
        }
        let want_labels = if shows_labels {
            site.labels.clone()
        } else {
            BTreeMap::new()
        };
        for e in &entries {
            let got = labels_of(s, e);
            if got != want_labels {
                bad.push(format!("{site}: labels {got:?}, want {want_labels:?}"));
                break;
            }
        }
        if let Some(depth) = site.min_depth {
            // pprof cuts deep stacks (32 program counters before Go 1.23, of which debug=1
            // hides the runtime's), but never to fewer than COMPARED_FRAMES.
            let want = (depth as usize).min(COMPARED_FRAMES);
            if let Some(e) = entries.iter().find(|e| s.stack(e.stack).len() < want) {
                bad.push(format!(
                    "{site}: a stack of {} frames, want at least {want}",
                    s.stack(e.stack).len()
                ));
            }
        }
        if !form.text() {
            continue;
        }
        for e in &entries {
            let Some(g) = e.goroutine else {
                bad.push(format!("{site}: an aggregated record in a text dump"));
                break;
            };
            let state = s.str(g.state);
            if state != site.wait_reason {
                bad.push(format!(
                    "{site}: goroutine {} state {state:?}, want {:?}",
                    g.goid, site.wait_reason
                ));
                break;
            }
            if g.locked_to_thread != site.locked_to_thread {
                bad.push(format!(
                    "{site}: goroutine {} locked_to_thread={}, want {}",
                    g.goid, g.locked_to_thread, site.locked_to_thread
                ));
                break;
            }
            // Go 1.21+ keeps the 50 innermost and 50 outermost frames and says how many it
            // left out.
            let deep = site.min_depth.is_some_and(|d| d > 100);
            if deep != matches!(g.elided, Elision::Count(n) if n > 0) {
                bad.push(format!(
                    "{site}: goroutine {} elided {:?}, min depth {:?}",
                    g.goid, g.elided, site.min_depth
                ));
                break;
            }
            // After a goroutineleak profile the runtime marks proven leaks `(leaked)`.
            let want_leaked = form == Form::LeakDebug2 && site.provable;
            if g.leaked != want_leaked {
                bad.push(format!(
                    "{site}: goroutine {} leaked={}, want {want_leaked}",
                    g.goid, g.leaked
                ));
                break;
            }
            if let Some(want_fn) = &site.created_by_function {
                let got = g.created_by.map(|f| s.frame_site(f));
                let ok = got.is_some_and(|c| {
                    c.function == want_fn.as_str()
                        && site.created_by_line.is_none_or(|l| c.line == l)
                });
                if !ok {
                    bad.push(format!(
                        "{site}: goroutine {} created by {:?}, want {want_fn} line {:?}",
                        g.goid,
                        got.map(|c| c.to_string()),
                        site.created_by_line
                    ));
                    break;
                }
                if g.creator_goid.is_none() {
                    bad.push(format!(
                        "{site}: goroutine {} has no creator goid (`in goroutine N`, Go 1.21+)",
                        g.goid
                    ));
                    break;
                }
            }
        }
    }
    if bad.is_empty() {
        return bad;
    }
    let saved = match case.save(form, bytes) {
        Some(p) => format!(" (input saved as {})", p.display()),
        None => String::new(),
    };
    vec![format!("{id}{saved}:\n    {}", bad.join("\n    "))]
}

fn expect_sane(case: &Case<'_>, exp: &Expect, bad: &mut Vec<String>) {
    if exp.fixture != case.fixture || exp.go_version != format!("go{}", case.tc.version) {
        bad.push(format!(
            "{}: EXPECT says fixture {} built by {}",
            case.id(Form::Panic),
            exp.fixture,
            exp.go_version
        ));
    }
    if exp.sites.is_empty() || exp.sites.iter().any(|s| s.count == 0) {
        bad.push(format!("{}: EXPECT has empty sites: {exp:?}", case.fixture));
    }
}

/// Runs one fixture in every form; returns what is wrong.
fn run_fixture(tc: &Toolchain, name: &str, labels: bool, trimpath: bool) -> Vec<String> {
    // The healthy service's default 2000 idle connections (6000 goroutines) cost seconds per
    // process: full size once, on the newest release's plain run; 300 connections elsewhere.
    let newest = toolchains().last().is_some_and(|t| t == tc);
    let n = (name == "healthy" && !(newest && !labels && !trimpath)).then_some(300);
    let case = Case {
        tc,
        fixture: name,
        labels,
        trimpath,
        save: true,
    };
    let opts = StartOptions {
        n,
        labels,
        trimpath,
        ..Default::default()
    };
    let mut bad = Vec::new();

    // The pprof forms, from one process. The goroutineleak forms come last: they mark leaks.
    let mut forms = Vec::new();
    if !labels {
        // debug=1 and protobuf carry labels whatever GODEBUG says: once is enough.
        forms.extend([Form::Debug2, Form::Debug1, Form::Proto]);
        if tc.has_goroutineleak() {
            forms.extend([Form::LeakDebug1, Form::LeakProto]);
        }
    } else {
        forms.push(Form::Debug2);
    }
    if tc.has_goroutineleak() {
        forms.push(Form::LeakDebug2);
    }
    let mut stacks = SiteStacks::new();
    let mut fx = Fixture::start(name, tc, &opts);
    let exp = fx.expect.clone();
    expect_sane(&case, &exp, &mut bad);
    for form in forms {
        let path = form.path().expect("an HTTP form");
        match fx.fetch(path) {
            Ok(bytes) => bad.extend(check_collect(&case, form, &bytes, &exp, &mut stacks)),
            Err(e) => bad.push(format!("{}: {e}", case.id(form))),
        }
    }
    drop(fx);

    // SIGQUIT from a fresh process: no pprof connection of ours in the dump.
    let fx = Fixture::start(name, tc, &opts);
    let exp = fx.expect.clone();
    let out = fx.sigquit();
    bad.extend(check_collect(
        &case,
        Form::Sigquit,
        out.as_bytes(),
        &exp,
        &mut stacks,
    ));

    let crash = run_panic(name, tc, &opts);
    expect_sane(&case, &crash.expect, &mut bad);
    bad.extend(check_collect(
        &case,
        Form::Panic,
        crash.stderr.as_bytes(),
        &crash.expect,
        &mut stacks,
    ));
    bad.extend(compare_stacks(&case, &exp, &stacks));
    bad
}

fn run_toolchain(version: &str) {
    let tc = toolchain(version);
    let names = fixture_names();
    let mut bad = Vec::new();
    let variants: &[bool] = if tc.has_traceback_labels() {
        &[false, true]
    } else {
        &[false]
    };
    for name in &names {
        for &labels in variants {
            let t = std::time::Instant::now();
            bad.extend(run_fixture(&tc, name, labels, false));
            eprintln!("go{version} {name} labels={labels}: {:.1?}", t.elapsed());
        }
    }
    // File paths as a -trimpath build prints them (module-relative), on the fixtures with the
    // most kinds of sites and the oddest shapes.
    bad.extend(run_fixture(&tc, "mixed", false, true));
    bad.extend(run_fixture(&tc, "odd-shapes", false, true));
    assert!(
        bad.is_empty(),
        "Go {version}: {} problem(s) reading the fixtures' dumps:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn the_fixture_set_is_complete() {
    let names = fixture_names();
    for want in [
        "background-loop",
        "chan-receive-no-sender",
        "chan-send-receiver-gone",
        "cond-no-signal",
        "ctx-ignored",
        "healthy",
        "http-body-not-closed",
        "io-no-deadline",
        "mixed",
        "mutex-never-unlocked",
        "nil-chan",
        "odd-shapes",
        "pool-backlog",
        "range-never-closed",
        "select-no-cases",
        "waitgroup-missing-done",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "fixture {want} is missing: {names:?}"
        );
    }
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

/// The checks can fail: real dumps of one fixture against deliberately wrong expectations,
/// one mistake at a time, each of which must be reported.
#[test]
fn checks_catch_wrong_expectations() {
    let tc = toolchains()
        .pop()
        .expect("toolchains() panics when there is none");
    let labels = tc.has_traceback_labels();
    let case = Case {
        tc: &tc,
        fixture: "chan-receive-no-sender",
        labels,
        trimpath: false,
        save: false,
    };
    let mut fx = Fixture::start(
        case.fixture,
        &tc,
        &StartOptions {
            labels,
            ..Default::default()
        },
    );
    let good = fx.expect.clone();
    let dumps: Vec<(Form, Vec<u8>)> = [Form::Debug2, Form::Debug1, Form::Proto]
        .into_iter()
        .map(|f| (f, fx.fetch(f.path().unwrap()).expect("fetching a dump")))
        .collect();
    for (form, bytes) in &dumps {
        let bad = check(&case, *form, bytes, &good);
        assert!(bad.is_empty(), "the true expectation fails: {bad:?}");
    }
    type Mutation = (&'static str, fn(&mut Expect), &'static [Form]);
    let all = &[Form::Debug2, Form::Debug1, Form::Proto][..];
    let text = &[Form::Debug2][..];
    let label_forms: &[Form] = if labels {
        all
    } else {
        &[Form::Debug1, Form::Proto]
    };
    let mutations: [Mutation; 8] = [
        ("total", |e| e.total += 1, all),
        ("count", |e| e.sites[0].count += 1, all),
        (
            "line",
            |e| e.sites[0].line = e.sites[0].line.map(|l| l + 1),
            all,
        ),
        ("file", |e| e.sites[0].file = "other.go".into(), all),
        (
            "wait reason",
            |e| e.sites[0].wait_reason = "chan send".into(),
            text,
        ),
        (
            "creator line",
            |e| e.sites[0].created_by_line = e.sites[0].created_by_line.map(|l| l + 1),
            text,
        ),
        (
            "creator function",
            |e| e.sites[0].created_by_function = Some("main.main".into()),
            text,
        ),
        (
            "labels",
            |e| {
                e.sites[0].labels.insert("job".into(), "other".into());
            },
            label_forms,
        ),
    ];
    for (what, mutate, forms) in mutations {
        let mut wrong = good.clone();
        mutate(&mut wrong);
        assert_ne!(wrong, good, "mutation {what} changed nothing");
        for (form, bytes) in &dumps {
            let caught = !check(&case, *form, bytes, &wrong).is_empty();
            assert_eq!(
                caught,
                forms.contains(form),
                "a wrong {what} in {} was {}",
                form.name(),
                if caught {
                    "reported where the form cannot show it"
                } else {
                    "not reported"
                }
            );
        }
    }
}
