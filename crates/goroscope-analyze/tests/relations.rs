//! The relation analysis on the relation fixtures (`fixtures/go/relations/`, issue 8), for
//! every installed Go release and every dump form: the relation each program sets up is found
//! with the right goroutines where the form carries the evidence, and each member's verdict is
//! one EXPECT gives for the snapshot's context — degrading honestly to `need-more-samples`
//! where the form lacks the evidence (pprof protobuf and `debug=1` print no arguments; channels
//! held in struct fields never show in a dump). The evidence per form is the table in
//! `fixtures/go/README.md` ("Relation evidence per form"), asserted on the dumps themselves by
//! `crates/goroscope/tests/relation_forms.rs`.
//!
//! `GOROSCOPE_FIXTURES=relations/lock-chain,…` narrows the fixtures for a quick local run.

use goroscope_analyze::{analyze, Group, Options, Report, Verdict};
use goroscope_fixtures::relations::{relation_fixture_names, run_to_exit};
use goroscope_fixtures::{toolchains, Expect, ExpectRelation, Fixture, StartOptions, Toolchain};
use goroscope_model::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Debug2,
    Debug1,
    Proto,
    /// SIGQUIT with GOTRACEBACK=system.
    System,
    /// SIGQUIT with GOTRACEBACK=crash (per-thread sections after the goroutines).
    Crash,
    /// The runtime's own `all goroutines are asleep` dump.
    Deadlock,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Debug2 => "debug=2",
            Form::Debug1 => "debug=1",
            Form::Proto => "protobuf",
            Form::System => "SIGQUIT system",
            Form::Crash => "SIGQUIT crash",
            Form::Deadlock => "deadlock",
        }
    }
    /// The context the analysis should infer for the form.
    fn context(self) -> &'static str {
        match self {
            Form::Debug2 | Form::Debug1 | Form::Proto => "live",
            Form::System | Form::Crash => "crash",
            Form::Deadlock => "deadlock",
        }
    }
    /// Whether the form names goroutines by id.
    fn has_goids(self) -> bool {
        !matches!(self, Form::Debug1 | Form::Proto)
    }
}

/// Whether `form` of fixture `name` on release `minor` carries what the relation layer needs to
/// find its relation (the README's evidence table).
fn evidence(name: &str, form: Form, minor: u32) -> bool {
    let fixture = name.trim_start_matches("relations/");
    match (fixture, form) {
        (_, Form::Debug1 | Form::Proto) => false,
        // Channels held in struct fields never show in a dump: only memory (attach) can tell.
        ("send-send-cycle", _) => false,
        // debug=2 hides the runtime frames that name the channel a stage waits on (its user
        // frame names both of its channels): found from SIGQUIT dumps, where main blocked
        // sending makes it a hung program.
        ("deadlock-pipeline", Form::Debug2) => false,
        // Each transfer holds its first account's lock through a plain function's pointer
        // argument (`transfer(from, to *Account)`): the words of the caller that blocks.
        ("deadlock-pipeline" | "lock-chain" | "lock-order", _) => true,
        // The WaitGroup's address is a certain word from Go 1.25 on.
        ("wg-self", _) => minor >= 25,
        // debug=2 prints only the owner struct; SIGQUIT the semaphores inside the RWMutex.
        ("rw-starved", Form::Debug2) => false,
        ("rw-starved", _) => true,
        _ => false,
    }
}

/// The relation kinds the analysis may report for an EXPECT relation kind (a deadlocked
/// pipeline whose channels are not all visible is found as a hung program: `stuck`).
fn our_kinds(expect: &str) -> &'static [&'static str] {
    match expect {
        "deadlock-cycle" => &["deadlock", "stuck"],
        "lock-order" | "wg-self" => &["deadlock"],
        "lock-chain" | "rw-starved" => &["lock-chain"],
        _ => &[],
    }
}

static FAILS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A soft assertion: every fixture, release and form is checked, then all failures are shown.
macro_rules! expect {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            let msg = format!($($fmt)+);
            FAILS.lock().unwrap().push(msg);
        }
    };
}

fn read(name: &str, bytes: &[u8]) -> Vec<Snapshot> {
    goroscope_ingest::read_reader(name, bytes, &Default::default())
        .unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

fn report(tag: &str, bytes: &[u8]) -> Report {
    let mut r = analyze(&read(tag, bytes), &Options::default());
    assert_eq!(r.len(), 1, "{tag}: one report");
    r.remove(0)
}

/// The groups holding the relation's members: by goid where the form has ids, else by the
/// members' blocking functions.
fn member_groups<'a>(r: &'a Report, rel: &ExpectRelation, form: Form) -> Vec<(&'a Group, u64)> {
    let mut out = Vec::new();
    for m in &rel.members {
        let g = if form.has_goids() {
            r.groups.iter().find(|g| g.goids.contains(&m.goid))
        } else {
            r.groups.iter().find(|g| {
                g.blocking_site
                    .as_ref()
                    .is_some_and(|b| b.function == m.function)
            })
        };
        if let Some(g) = g {
            out.push((g, m.goid));
        }
    }
    out
}

fn check(tag: &str, name: &str, tc: &Toolchain, form: Form, r: &Report, expect: &Expect) {
    expect!(
        r.context.kind == form.context(),
        "{tag}: context {}",
        r.context.kind
    );
    let Some(rel) = expect.relations.first() else {
        panic!("{tag}: EXPECT names no relation");
    };
    let ev = evidence(name, form, tc.minor());
    let ctx = form.context();
    let allowed: Vec<&str> = rel
        .verdicts
        .get(ctx)
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let kinds = our_kinds(&rel.kind);
    let found = r
        .relations
        .iter()
        .find(|x| kinds.contains(&x.kind.as_str()));
    // Members that wait (a busy holder runs: it is named, not judged). A probable relation
    // (argument words and receivers, not the runtime) makes a suspect, not a leak; the main
    // goroutine stays benign where the form prints no state.
    for (g, goid) in member_groups(r, rel, form) {
        let m = rel.members.iter().find(|m| m.goid == goid).unwrap();
        if m.op == "busy" || m.role == "reader-holding" || allowed.is_empty() {
            continue;
        }
        let v = g.verdict.as_str();
        let probable = found.is_some_and(|f| !f.sure) && g.verdict == Verdict::Suspect;
        let stateless_main = matches!(form, Form::Debug1 | Form::Proto)
            && g.pattern.as_deref() == Some("benign:main-goroutine");
        let ok = allowed.contains(&v)
            || probable
            || (!ev && (g.verdict == Verdict::NeedMoreSamples || stateless_main));
        expect!(
            ok,
            "{tag}: member goroutine {goid} ({}) judged {v}, EXPECT {ctx}: {allowed:?} (evidence in this form: {ev}); pattern {:?}, evidence {:?}",
            m.role,
            g.pattern,
            g.evidence
        );
    }
    if kinds.is_empty() || !ev {
        return;
    }
    let Some(found) = found else {
        expect!(
            false,
            "{tag}: no {kinds:?} relation: {:?}",
            r.relations.iter().map(|x| &x.summary).collect::<Vec<_>>()
        );
        return;
    };
    // Every waiting member is in it (by goid), where the form lists goroutines.
    if form.has_goids() {
        for m in rel
            .members
            .iter()
            .filter(|m| m.op != "busy" && m.role != "reader-holding")
        {
            expect!(
                found.goroutines.iter().any(|g| g.goid == m.goid),
                "{tag}: member {} ({}) not in {}: {}",
                m.goid,
                m.role,
                found.id,
                found.summary
            );
        }
    }
    // Its objects are the fixture's (addresses as %p prints them).
    for o in &found.objects {
        expect!(
            rel.objects.iter().any(|x| x.addr == o.addr),
            "{tag}: object {} {} is none of the fixture's: {:#?}",
            o.kind,
            o.addr,
            rel.objects
        );
    }
    if let Some(root) = rel.holder_goid {
        // The chain's root holder, where its stack is in the dump.
        let named = found
            .goroutines
            .iter()
            .any(|g| g.goid == root && g.role == "root-holder");
        let waits = found.goroutines.iter().any(|g| g.role == "holder");
        expect!(
            named || waits,
            "{tag}: the chain names neither the root holder {root} nor a holder: {}",
            found.summary
        );
    }
}

fn selected(name: &str) -> bool {
    match std::env::var("GOROSCOPE_FIXTURES") {
        Ok(list) if !list.is_empty() => list.split([',', ' ']).any(|n| n == name),
        _ => true,
    }
}

#[test]
fn relations_are_found_and_judged_in_every_form() {
    for tc in toolchains() {
        for name in relation_fixture_names() {
            if !selected(&name) {
                continue;
            }
            if name.ends_with("runtime-deadlock") {
                let ex = run_to_exit(&name, &tc, &StartOptions::default());
                let tag = format!("{name}@{} deadlock", tc.version);
                let r = report(&tag, ex.stderr.as_bytes());
                check(&tag, &name, &tc, Form::Deadlock, &r, &ex.expect);
                for g in r.groups.iter().filter(|g| g.verdict == Verdict::Leak) {
                    assert!(g.proven, "{tag}: {g:#?}");
                }
                continue;
            }
            // HTTP forms from one process, SIGQUIT forms from fresh ones.
            let mut fx = Fixture::start(&name, &tc, &StartOptions::default());
            let expect = fx.expect.clone();
            for (form, path) in [
                (Form::Debug2, "/debug/pprof/goroutine?debug=2"),
                (Form::Debug1, "/debug/pprof/goroutine?debug=1"),
                (Form::Proto, "/debug/pprof/goroutine?debug=0"),
            ] {
                let tag = format!("{name}@{} {}", tc.version, form.name());
                let body = fx.fetch(path).unwrap_or_else(|e| panic!("{tag}: {e}"));
                check(&tag, &name, &tc, form, &report(&tag, &body), &expect);
            }
            drop(fx);
            for (form, tb) in [(Form::System, "system"), (Form::Crash, "crash")] {
                let opts = StartOptions {
                    env: vec![("GOTRACEBACK".into(), tb.into())],
                    ..StartOptions::default()
                };
                let fx = Fixture::start(&name, &tc, &opts);
                let expect = fx.expect.clone();
                let text = fx.sigquit();
                let tag = format!("{name}@{} {}", tc.version, form.name());
                check(
                    &tag,
                    &name,
                    &tc,
                    form,
                    &report(&tag, text.as_bytes()),
                    &expect,
                );
            }
        }
    }
    let fails = FAILS.lock().unwrap();
    assert!(
        fails.is_empty(),
        "{} failures:\n{}",
        fails.len(),
        fails.join("\n")
    );
}
