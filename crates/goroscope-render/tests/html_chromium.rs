//! The HTML report opened in a real headless Chromium: it renders, the flame graph is in the
//! page, and the console stays clean. Needs Debian's `chromium` (scripts/test.sh installs it);
//! without it the test says SKIP and returns.

mod common;

use goroscope_model::{Format, Frame, Goid, Goroutine, ProfileKind, Snapshot, Source, StateText};
use goroscope_render::{render, OutputFormat, RenderOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(c);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    eprintln!("SKIP: chromium is not installed (apt-get install chromium); the HTML report was not opened in a browser");
    None
}

struct Run {
    dom: String,
    log: String,
}

/// Opens `page` headless, with networking off, and returns the DOM after load and the log.
/// A screenshot is written beside the page.
fn open(browser: &Path, page: &Path, fragment: &str, profile: &Path) -> Run {
    let url = format!("file://{}{fragment}", page.display());
    let screenshot = page.with_extension("png");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let dom = out_t.join().unwrap();
            let log = err_t.join().unwrap();
            assert!(status.success(), "chromium failed ({status}):\n{log}");
            assert!(
                screenshot
                    .metadata()
                    .map(|m| m.len() > 10_000)
                    .unwrap_or(false),
                "no screenshot at {}:\n{log}",
                screenshot.display()
            );
            return Run { dom, log };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Console messages from Chromium's log: `console.*` calls, uncaught exceptions, CSP
/// refusals and failed resource loads all reach the page console, which Chromium logs as
/// `INFO:CONSOLE(…)` lines (its own dbus/GPU noise on stderr is not the page's).
fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

fn snapshot() -> Snapshot {
    let mut s = Snapshot::new(Source {
        input: "prod-api.txt".into(),
        index: 0,
        line: None,
        format: Format::Debug2,
        kind: ProfileKind::Goroutine,
    });
    let mut fr = |name: &str, line| {
        let function = s.interner.intern_str(name);
        let file = s
            .interner
            .intern_str("/home/dev/src/example.com/app/worker.go");
        s.interner.intern_frame(Frame {
            function,
            file,
            line,
            offset: None,
            inlined: false,
        })
    };
    let w = fr("main.worker", 42);
    let x = fr("main.F[go.shape.struct { a <script>alert(1)</script> }]", 7);
    let st = s.interner.intern_stack(&[w]);
    let st2 = s.interner.intern_stack(&[x]);
    for i in 0..120 {
        let mut g = Goroutine::new(Goid(100 + i), st);
        g.set_state(
            &StateText::parse("chan receive (leaked), 5 minutes"),
            &mut s.interner,
        );
        s.goroutines.push(g);
    }
    let mut g = Goroutine::new(Goid(9), st2);
    g.set_state(&StateText::parse("select (no cases)"), &mut s.interner);
    s.goroutines.push(g);
    s
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("goroscope-html-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn html_report_renders_in_chromium_with_flame_graph_and_clean_console() {
    let Some(browser) = chromium() else { return };
    let dir = tmpdir("report");
    let mut html = Vec::new();
    render(
        &mut html,
        OutputFormat::HTML,
        &[common::sample_report()],
        &[snapshot()],
        &RenderOptions::default(),
    )
    .unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, &html).unwrap();
    let run = open(&browser, &page, "", &dir.join("profile"));

    assert!(run.dom.contains("<svg"), "flame graph SVG in the DOM");
    assert!(
        run.dom.contains("main.worker"),
        "flame graph frames in the DOM:\n{}",
        &run.dom[..run.dom.len().min(2000)]
    );
    assert!(run.dom.contains("<details"), "collapsible stacks");
    assert!(run.dom.contains("chan-receive-no-sender"));
    assert!(
        !run.dom.contains("<script>alert(1)"),
        "dump text must be escaped, never markup"
    );
    let errors = console_errors(&run.log);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    eprintln!("screenshot: {}", page.with_extension("png").display());
}

/// The console check above must be able to fail: a page that logs an error and loads a
/// missing image is caught.
#[test]
fn console_check_catches_errors() {
    let Some(browser) = chromium() else { return };
    let dir = tmpdir("control");
    let page = dir.join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>control</p><script>console.error('broken page')</script></body></html>",
    )
    .unwrap();
    let run = open(&browser, &page, "", &dir.join("profile"));
    let errors = console_errors(&run.log);
    assert!(
        errors.iter().any(|l| l.contains("broken page")),
        "the control page's console.error was not seen; log:\n{}",
        run.log
    );
}

/// The `<g>` element of the frame whose title starts with `name (`, as the DOM holds it.
fn frame_element<'a>(dom: &'a str, name: &str) -> &'a str {
    let title = format!("<title>{name} (");
    let at = dom
        .find(&title)
        .unwrap_or_else(|| panic!("no frame {name} in the DOM"));
    let start = dom[..at].rfind("<g").unwrap();
    let end = at + dom[at..].find("</g>").unwrap();
    &dom[start..end]
}

#[test]
fn flame_graph_zooms_in_the_browser() {
    let Some(browser) = chromium() else { return };
    let dir = tmpdir("zoom");
    let mut html = Vec::new();
    render(
        &mut html,
        OutputFormat::HTML,
        &[common::sample_report()],
        &[snapshot()],
        &RenderOptions::default(),
    )
    .unwrap();
    let html = String::from_utf8(html).unwrap();
    // The index of the main.worker frame among the flame graph's frames.
    let frames = &html[html.find("<svg id=\"frames\"").unwrap()..];
    let index = frames
        .split("<g><title>")
        .skip(1)
        .position(|f| f.starts_with("main.worker ("))
        .expect("main.worker frame");
    let page = dir.join("zoom.html");
    std::fs::write(&page, &html).unwrap();
    let run = open(
        &browser,
        &page,
        &format!("#s0-flame-zoom={index}"),
        &dir.join("profile"),
    );
    let worker = frame_element(&run.dom, "main.worker");
    assert!(
        worker.contains("width=\"100.0000%\""),
        "zoomed frame fills the width: {worker}"
    );
    let other = frame_element(
        &run.dom,
        "main.F[go.shape.struct { a &lt;script&gt;alert(1)&lt;/script&gt; }]",
    );
    assert!(
        other.contains("display: none"),
        "frames outside are hidden: {other}"
    );
    let errors = console_errors(&run.log);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

/// An execution window's report: the per-site lifetime chart (inline SVG) and table are in the
/// rendered page, drawn, and the console stays clean.
#[test]
fn lifecycle_chart_renders_in_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = tmpdir("lifecycle");
    let mut html = Vec::new();
    render(
        &mut html,
        OutputFormat::HTML,
        &[common::sample_window_report()],
        &[snapshot()],
        &RenderOptions::default(),
    )
    .unwrap();
    let page = dir.join("window.html");
    std::fs::write(&page, &html).unwrap();
    let run = open(&browser, &page, "", &dir.join("profile"));
    let chart = run
        .dom
        .find("class=\"lifecycle-chart\"")
        .map(|at| &run.dom[at..at + run.dom[at..].find("</svg>").unwrap()])
        .expect("the lifecycle chart in the DOM");
    assert_eq!(chart.matches("<g class=\"site v-").count(), 3, "{chart}");
    assert_eq!(
        chart.matches("<polyline").count(),
        3,
        "an alive series per site"
    );
    assert!(
        chart.contains("class=\"box\""),
        "a lifetime box for the steady site"
    );
    assert!(chart.contains("main.handle (handler.go:57)"), "{chart}");
    assert!(
        !run.dom.contains("main.worker <script>"),
        "entry function text is escaped"
    );
    assert!(run.dom.contains("Lifecycles over the 3.0 s window"));
    let errors = console_errors(&run.log);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    eprintln!("screenshot: {}", page.with_extension("png").display());
}
