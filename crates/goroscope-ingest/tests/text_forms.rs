//! Small hand-written inputs for the traceback forms the real samples do not cover.

use goroscope_ingest::{text, Options};
use goroscope_model::{Elision, Format, Snapshot, Status, WaitReason};

fn read(input: &str) -> Snapshot {
    let mut v = text::read("t", input.as_bytes(), &Options::default())
        .unwrap_or_else(|e| panic!("{e}\n{input}"));
    assert_eq!(v.len(), 1, "{input}");
    v.pop().unwrap()
}

fn functions(s: &Snapshot, i: usize) -> Vec<&str> {
    s.stack(s.goroutines[i].stack)
        .iter()
        .map(|&f| s.function(f))
        .collect()
}

#[test]
fn crash_dump_with_unavailable_stacks_registers_and_system_stacks() {
    let input = "\
fatal error: unexpected signal during runtime execution
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x45b5e2]

runtime stack:
runtime.throw({0x4b3c5a?, 0x0?})
\t/usr/local/go/src/runtime/panic.go:1023 +0x5c fp=0x7ffd sp=0x7ffc pc=0x437c1c
runtime.sigpanic()
\t/usr/local/go/src/runtime/signal_unix.go:895 +0x285 fp=0x7ffe sp=0x7ffd pc=0x44e3e5

goroutine 1 gp=0xc000002380 m=0 mp=0x55f360 [running, locked to thread]:
runtime.systemstack_switch()
\t/usr/local/go/src/runtime/asm_amd64.s:474 +0x8 fp=0xc sp=0xc pc=0x45b5e8
main.main()
\t/home/u/app/main.go:9 +0x25 fp=0xc sp=0xc pc=0x48d6a5

goroutine 6 gp=0xc000007180 m=3 mp=0xc000080008 [running]:
\tgoroutine running on other thread; stack unavailable
created by main.start in goroutine 1
\t/home/u/app/main.go:20 +0x4e

goroutine 7 gp=0xc000007340 m=nil [GC worker (idle) (scan)]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
\t/usr/local/go/src/runtime/proc.go:424 +0xce fp=0xc sp=0xc pc=0x43a9ce
non-Go function at pc=0x7f3e2c1
created by runtime.gcBgMarkStartWorkers in goroutine 1
\t/usr/local/go/src/runtime/mgc.go:1339 +0x105

rax    0x0
rbx    0x1
rip    0x45b5e2
rflags 0x10246
cs     0x33
fs     0x0
gs     0x0
";
    let s = read(input);
    assert_eq!(s.source.format, Format::Traceback);
    assert_eq!(
        s.reason.as_deref(),
        Some("fatal error: unexpected signal during runtime execution")
    );
    assert_eq!(s.goroutines.len(), 3, "`runtime stack:` is not a goroutine");
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let g1 = &s.goroutines[0];
    assert!(g1.locked_to_thread);
    assert_eq!(g1.m, Some(0));
    let g6 = &s.goroutines[1];
    assert!(g6.stack_unavailable);
    assert!(s.stack(g6.stack).is_empty());
    assert_eq!(g6.creator_goid.map(|g| g.0), Some(1));
    let g7 = &s.goroutines[2];
    assert_eq!(g7.wait_reason, Some(WaitReason::GcWorkerIdle));
    assert_eq!(functions(&s, 2), ["runtime.gopark", "non-Go function"]);
}

#[test]
fn names_generics_escapes_modules_and_args() {
    let input = "\
goroutine 9 [select, 12 minutes]:
gopkg.in/yaml%2ev2.(*decoder).unmarshal(0xc0001, {0x5a?, 0xc0002?}, ...)
\t/root/go/pkg/mod/gopkg.in/yaml.v2@v2.4.0/decode.go:310 +0x5b
github.com/!burnt!sushi/toml.(*Decoder).Decode(...)
\t/root/go/pkg/mod/github.com/!burnt!sushi/toml@v1.3.2/decode.go:160
example.com/app/internal/pool.(*Pool[...]).Get(0xc0003)
\texample.com/app/internal/pool/pool.go:44 +0x1d
example.com/app.Map[go.shape.int,go.shape.string](...)
\texample.com/app/map.go:8
created by example.com/app.(*Server).Start in goroutine 1
\texample.com/app/server.go:71 +0x1a5
";
    let s = read(input);
    assert_eq!(
        functions(&s, 0),
        [
            "gopkg.in/yaml%2ev2.(*decoder).unmarshal",
            "github.com/!burnt!sushi/toml.(*Decoder).Decode",
            "example.com/app/internal/pool.(*Pool[...]).Get",
            "example.com/app.Map[go.shape.int,go.shape.string]",
        ]
    );
    let g = &s.goroutines[0];
    assert_eq!(g.wait_minutes, Some(12));
    assert_eq!(g.wait_reason, Some(WaitReason::Select));
    let f = s.frame_site(s.stack(g.stack)[1]);
    assert_eq!(
        f.file,
        "/root/go/pkg/mod/github.com/!burnt!sushi/toml@v1.3.2/decode.go"
    );
    assert!(s.frame(s.stack(g.stack)[1]).inlined);
    assert!(!s.frame(s.stack(g.stack)[0]).inlined);
    assert_eq!(s.go_version_min.as_deref(), Some("go1.21"));
}

#[test]
fn nested_panics_and_elisions() {
    let input = "\
panic: first [recovered]
\tpanic: second

goroutine 1 [running]:
main.f(...)
\tmain.go:3
...12 frames elided...
main.main()
\tmain.go:9 +0x1
";
    let s = read(input);
    assert_eq!(s.reason.as_deref(), Some("panic: first [recovered]"));
    assert_eq!(s.goroutines[0].elided, Elision::Count(12));
    assert_eq!(s.goroutines[0].status, Status::Running);
    assert_eq!(functions(&s, 0), ["main.f", "main.main"]);
}

#[test]
fn unknown_wait_reasons_survive() {
    let s = read("goroutine 4 [frobnicating, 2 minutes]:\nmain.f()\n\tmain.go:1 +0x1\n");
    let g = &s.goroutines[0];
    assert_eq!(g.wait_reason, Some(WaitReason::Other));
    assert_eq!(s.str(g.state), "frobnicating");
    assert_eq!(g.wait_minutes, Some(2));
}

#[test]
fn warnings_are_capped_but_counted() {
    let mut input = String::new();
    for i in 0..3000 {
        input.push_str(&format!(
            "goroutine {} [select]:\nmain.f()\nnoise {i}\n\tmain.go:1 +0x1\n\n",
            i + 1
        ));
    }
    input.push_str("goroutine 99999 [select]:\nmain.f()\n");
    let v = text::read("w", input.as_bytes(), &Options::default()).unwrap();
    let s = &v[0];
    assert_eq!(s.goroutines.len(), 3001);
    assert!(s.warnings.len() <= 1010, "{}", s.warnings.len());
    assert!(s
        .warnings
        .iter()
        .any(|w| w.message.contains("more warnings")));
    assert!(s.truncated);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.message.contains("input ends inside goroutine 99999")),
        "the cut is always reported"
    );
}

#[test]
fn a_race_report_beside_a_dump_is_a_warning_not_an_error() {
    let input = "\
==================
WARNING: DATA RACE
Write at 0x00c000012345 by goroutine 7:
  main.f()
      /app/main.go:10 +0x3a

Previous read at 0x00c000012345 by goroutine 6:
  main.g()
      /app/main.go:14 +0x2b
==================
panic: test timed out after 5s
\trunning tests:
\t\tTestRace (5s)

goroutine 9 [running]:
testing.(*M).startAlarm.func1()
\ttesting/testing.go:2484 +0x394
created by time.goFunc
\ttime/sleep.go:215 +0x2d
";
    let s = read(input);
    assert_eq!(s.reason.as_deref(), Some("panic: test timed out after 5s"));
    assert_eq!(s.goroutines.len(), 1);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.message.contains("race detector")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn every_header_marker_at_once() {
    let s = read("goroutine 5 gp=0x1 m=2 mp=0x3 [chan receive (leaked) (scan), 3 minutes, locked to thread, synctest bubble 4] {a: b}:\nmain.f(...)\n\tmain.go:1\n");
    let g = &s.goroutines[0];
    assert!(g.leaked && g.locked_to_thread);
    assert_eq!(g.status, Status::Leaked);
    assert_eq!(
        (g.wait_minutes, g.synctest_bubble, g.m),
        (Some(3), Some(4), Some(2))
    );
    assert_eq!(s.str(g.state), "chan receive");
    assert_eq!(s.labels(g.labels).collect::<Vec<_>>(), [("a", "b")]);
    assert_eq!(s.go_version_min.as_deref(), Some("go1.27"));
}
