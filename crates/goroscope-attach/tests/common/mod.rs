//! Shared helpers for the attach tests: building and driving the `attach_*` fixtures, and a
//! small reader of the runtime's own `debug=2` text to compare against.
#![allow(dead_code)]

pub use goroscope_fixtures::{BuildOptions, Toolchain};
use goroscope_model::{Elision, Snapshot};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub fn repo() -> PathBuf {
    goroscope_fixtures::repo_root()
}

/// Installed toolchains (goroscope-fixtures finds them, and panics, naming the fix, when there
/// is none).
pub fn installed() -> Vec<Toolchain> {
    goroscope_fixtures::toolchains()
}

/// Builds `fixtures/go/<name>` with `tc` (stripped with `-ldflags=-s -w` when asked).
pub fn build(name: &str, tc: &Toolchain, stripped: bool) -> PathBuf {
    build_with(
        name,
        tc,
        BuildOptions {
            stripped,
            ..Default::default()
        },
    )
}

/// Builds with options (PIE, stripped, cgo), through goroscope-fixtures.
pub fn build_with(name: &str, tc: &Toolchain, opts: BuildOptions) -> PathBuf {
    goroscope_fixtures::build_with(name, tc, opts)
}

/// A running fixture that talks over stdin/stdout.
pub struct Fixture {
    pub child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Fixture {
    pub fn start(exe: &Path, env: &[(&str, &str)]) -> Fixture {
        let mut c = Command::new(exe);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("start fixture");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut f = Fixture {
            child,
            stdin,
            stdout,
        };
        f.read_until("READY");
        f
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads lines until one equals `marker`; returns the lines before it.
    pub fn read_until(&mut self, marker: &str) -> String {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "fixture exited before printing {marker}");
            if line.trim_end() == marker {
                return text;
            }
            text.push_str(&line);
        }
    }

    /// Reads lines until one starts with `prefix`; returns the rest of that line.
    pub fn read_until_prefix(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "fixture exited before printing {prefix}");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim_end().to_string();
            }
        }
    }

    pub fn send(&mut self, cmd: &str) {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The process's own `debug=2` dump.
    pub fn dump(&mut self) -> String {
        self.send("dump");
        self.read_until("END")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One goroutine of a debug=2 dump, as plain strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct G {
    pub goid: u64,
    pub state: String,
    pub labels: Vec<(String, String)>,
    /// `function|file|line|offset|inlined`
    pub frames: Vec<String>,
    pub elided: Option<u32>,
    pub created_by: Option<String>,
    pub creator: Option<u64>,
    pub unavailable: bool,
    /// The argument words kept by the model's policy (`goroscope_model::ArgKeeper`), one
    /// string per kept frame: `index|word,word,…|more`, a word printed with `?` shown as `?`
    /// alone (its value may be stale, so it is not compared).
    pub args: Vec<String>,
}

/// One kept frame as a string (see [`G::args`]).
fn args_string(
    frame: usize,
    words: &[u64],
    uncertain: impl Fn(usize) -> bool,
    more: bool,
) -> String {
    let w: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if uncertain(i) {
                "?".to_string()
            } else {
                format!("{w:#x}")
            }
        })
        .collect();
    format!("{frame}|{}|{more}", w.join(","))
}

/// The words of one printed argument list (the text between the parentheses) that the keep
/// policy keeps: a reader of the runtime's own text, independent of goroscope's.
pub fn text_words(args: &str, max: usize) -> goroscope_model::FrameWords {
    let mut w = goroscope_model::FrameWords::new(max);
    for tok in args.split([',', '{', '}', ' ']) {
        if tok.is_empty() {
            continue;
        }
        let go_on = if tok == "_" {
            w.underscore()
        } else if let Some(hex) = tok.strip_prefix("0x") {
            let (hex, unsure) = match hex.strip_suffix('?') {
                Some(h) => (h, true),
                None => (hex, false),
            };
            match u64::from_str_radix(hex, 16) {
                Ok(v) => w.word(v, unsure),
                Err(_) => {
                    w.rest();
                    false
                }
            }
        } else {
            w.rest();
            false
        };
        if !go_on {
            break;
        }
    }
    w
}

/// Applies the keep policy to printed frames `(function, argument text)`.
fn kept_text_args(frames: &[(String, String)]) -> Vec<String> {
    let mut keeper = goroscope_model::ArgKeeper::new();
    let mut out = Vec::new();
    for (i, (func, args)) in frames.iter().enumerate() {
        if args.is_empty() {
            continue;
        }
        let role = goroscope_model::ArgRole::of(func);
        let max = keeper.max_words(role);
        if max == 0 {
            continue;
        }
        let w = text_words(args, max);
        if keeper.keep(role, &w) {
            let f = w.at(i).expect("kept words");
            out.push(args_string(
                i,
                f.words,
                |k| f.uncertain & (1 << k) != 0,
                f.more,
            ));
        }
    }
    out
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .replace("\\\"", "\"")
}

fn parse_location(line: &str) -> (String, u32, Option<u32>) {
    // GOTRACEBACK=crash appends ` fp=… sp=… pc=…`, also after a frame at its function's entry
    // (no `+0x` offset: a goroutine that never ran).
    let l = line.trim();
    let l = l.split_once(" fp=").map_or(l, |(a, _)| a);
    let (loc, off) = match l.rsplit_once(" +0x") {
        Some((a, b)) => (
            a,
            u32::from_str_radix(b.split_whitespace().next().unwrap(), 16).ok(),
        ),
        None => (l, None),
    };
    let (file, line) = loc.rsplit_once(':').unwrap();
    (file.to_string(), line.parse().unwrap(), off)
}

/// Parses a `debug=2` / traceback text (enough for these fixtures).
pub fn parse_debug2(text: &str) -> Vec<G> {
    let mut out: Vec<G> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        i += 1;
        let Some(rest) = l.strip_prefix("goroutine ") else {
            continue;
        };
        let Some(open) = rest.find(" [") else {
            continue;
        };
        let Ok(goid) = rest[..open].split_whitespace().next().unwrap().parse() else {
            continue;
        };
        let close = rest.rfind("]").unwrap();
        let mut state = rest[open + 2..close].to_string();
        let mut labels = Vec::new();
        // Go 1.26 prints labels inside the brackets: `[chan receive labels:{"k": "v"}]`.
        if let Some(p) = state.find(" labels:{") {
            let inner = state[p + " labels:{".len()..]
                .trim_end_matches('}')
                .to_string();
            for kv in inner.split(", ") {
                if let Some((k, v)) = kv.split_once(": ") {
                    labels.push((unquote(k), unquote(v)));
                }
            }
            state.truncate(p);
        }
        let tail = rest[close + 1..].trim().trim_end_matches(':').trim();
        if let Some(inner) = tail.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            for kv in inner.split(", ") {
                if let Some((k, v)) = kv.split_once(": ") {
                    labels.push((unquote(k), unquote(v)));
                }
            }
            labels.sort();
        }
        let mut g = G {
            goid,
            state,
            labels,
            frames: Vec::new(),
            elided: None,
            created_by: None,
            creator: None,
            unavailable: false,
            args: Vec::new(),
        };
        let mut printed: Vec<(String, String)> = Vec::new();
        while i < lines.len() && !lines[i].is_empty() {
            let l = lines[i];
            if l.trim() == "goroutine running on other thread; stack unavailable" {
                g.unavailable = true;
                i += 1;
            } else if let Some(n) = l
                .strip_prefix("...")
                .and_then(|s| s.strip_suffix(" frames elided..."))
            {
                g.elided = n.parse().ok();
                i += 1;
            } else if let Some(c) = l.strip_prefix("created by ") {
                let (func, creator) = match c.split_once(" in goroutine ") {
                    Some((f, n)) => (f.to_string(), n.trim().parse().ok()),
                    None => (c.to_string(), None),
                };
                let (file, line, off) = parse_location(lines[i + 1]);
                g.created_by = Some(format!("{func}|{file}|{line}|{off:?}|false"));
                g.creator = creator;
                i += 2;
            } else if !l.ends_with(')') || i + 1 >= lines.len() || !lines[i + 1].starts_with('\t') {
                // Not a frame (register dumps, runtime notes): not part of a goroutine.
                i += 1;
            } else {
                let p = l.rfind('(').unwrap();
                let func = &l[..p];
                let inlined = &l[p..] == "(...)";
                printed.push((func.to_string(), l[p + 1..l.len() - 1].to_string()));
                let (file, line, off) = parse_location(lines[i + 1]);
                g.frames
                    .push(format!("{func}|{file}|{line}|{off:?}|{inlined}"));
                i += 2;
            }
        }
        g.args = kept_text_args(&printed);
        out.push(g);
    }
    out
}

/// The same view of a snapshot goroutine.
pub fn from_snapshot(s: &Snapshot) -> Vec<G> {
    s.goroutines
        .iter()
        .map(|g| {
            let fr = |f| {
                let x = s.frame(f);
                format!(
                    "{}|{}|{}|{:?}|{}",
                    s.str(x.function),
                    s.str(x.file),
                    x.line,
                    x.offset,
                    x.inlined
                )
            };
            let mut state = s.str(g.state).to_string();
            if g.leaked {
                state += " (leaked)";
            }
            if let Some(m) = g.wait_minutes {
                state += &format!(", {m} minutes");
            }
            if g.locked_to_thread {
                state += ", locked to thread";
            }
            let mut labels: Vec<(String, String)> = s
                .labels(g.labels)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            labels.sort();
            G {
                goid: g.goid.0,
                state,
                labels,
                frames: s.stack(g.stack).iter().map(|&f| fr(f)).collect(),
                elided: match g.elided {
                    Elision::Count(n) => Some(n),
                    _ => None,
                },
                created_by: g.created_by.map(fr),
                creator: g.creator_goid.map(|g| g.0),
                unavailable: g.stack_unavailable,
                args: s
                    .frame_args(g)
                    .map(|f| args_string(f.frame, f.words, |k| f.uncertain(k), f.more))
                    .collect(),
            }
        })
        .collect()
}

/// Compares goroutine by goroutine; `skip` are the goids whose differences are tolerated
/// (named by the caller). Returns human-readable differences.
pub fn compare(dump: &[G], ours: &[G], skip: &[u64], compare_labels: bool) -> Vec<String> {
    let mut diffs = Vec::new();
    let by_id = |v: &[G]| {
        v.iter()
            .map(|g| (g.goid, g.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (a, b) = (by_id(dump), by_id(ours));
    for (id, d) in &a {
        if skip.contains(id) {
            continue;
        }
        let Some(o) = b.get(id) else {
            diffs.push(format!(
                "goroutine {id} [{}] is in the dump but not in the snapshot",
                d.state
            ));
            continue;
        };
        let mut o = o.clone();
        if !compare_labels {
            o.labels = d.labels.clone();
        }
        if *d != o {
            diffs.push(format!(
                "goroutine {id} differs:\n  dump: {d:#?}\n  ours: {o:#?}"
            ));
        }
    }
    for (id, o) in &b {
        if !skip.contains(id) && !a.contains_key(id) {
            diffs.push(format!(
                "goroutine {id} [{}] is in the snapshot but not in the dump",
                o.state
            ));
        }
    }
    diffs
}

/// The `Source` of snapshots built from fake memory.
pub fn fake_source() -> goroscope_model::Source {
    goroscope_model::Source {
        input: "fake".into(),
        index: 0,
        line: None,
        format: goroscope_model::Format::Attach,
        kind: goroscope_model::ProfileKind::Goroutine,
    }
}

/// A child process that is killed and reaped when the test ends, however it ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
