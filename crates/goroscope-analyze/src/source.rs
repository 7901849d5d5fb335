//! The source line a goroutine blocks at, where the file is on disk: a dump does not say what a
//! channel is, the line often does (`case <-ticker.C:`, `<-ctx.Done()`, `<-sigCh` after
//! `signal.Notify(sigCh, …)`).
//!
//! Files are looked up as the dump names them (absolute build paths), then under each
//! `--source DIR` with the dump's path cut from the left until a file exists there (so
//! `-trimpath` paths such as `example.com/mod/pkg/x.go` map to `DIR/pkg/x.go`). Only regular
//! `.go` files of at most [`MAX_FILE`] bytes are read; nothing is ever written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Largest source file read.
pub const MAX_FILE: u64 = 4 << 20;
/// How many lines after a `select {` line its cases are looked for.
const SELECT_SPAN: usize = 60;
/// How many lines above a receive `signal.Notify` is looked for.
const NOTIFY_SPAN: usize = 40;

/// Where to look for sources.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Read sources at all.
    pub enabled: bool,
    /// `--source DIR`: roots to map the dump's paths under.
    pub roots: Vec<PathBuf>,
}

impl SourceOptions {
    /// Sources read from the paths the dump names, and nowhere else.
    pub fn local() -> Self {
        SourceOptions {
            enabled: true,
            roots: Vec::new(),
        }
    }
}

/// What a blocking line waits on, as the source says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waits {
    /// A timer or ticker channel (`time.Tick`, `time.After`, `ticker.C`): a periodic or timed
    /// loop, which a timer can always wake.
    Timer,
    /// A context's `Done()` channel: stops when its context is cancelled.
    Context,
    /// A channel registered with `signal.Notify`: woken by an OS signal.
    Signal,
    /// A stop/quit/done/close channel: stops when its owner says so.
    Stop,
}

impl Waits {
    pub fn as_str(self) -> &'static str {
        match self {
            Waits::Timer => "a timer or ticker",
            Waits::Context => "a context's Done channel",
            Waits::Signal => "an OS signal channel (signal.Notify)",
            Waits::Stop => "a stop channel",
        }
    }
}

/// What the source says about a blocking site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFacts {
    /// The file read.
    pub path: PathBuf,
    /// The blocking line, trimmed.
    pub line: String,
    /// What it waits on, every kind seen (a select's cases).
    pub waits: Vec<Waits>,
}

/// Reads and caches source files.
#[derive(Debug, Default)]
pub struct Sources {
    opts: SourceOptions,
    files: Mutex<HashMap<String, Option<std::sync::Arc<Vec<String>>>>>,
}

impl Sources {
    pub fn new(opts: SourceOptions) -> Self {
        Sources {
            opts,
            files: Mutex::new(HashMap::new()),
        }
    }

    fn candidates(&self, file: &str) -> Vec<PathBuf> {
        let mut out = vec![PathBuf::from(file)];
        let parts: Vec<&str> = file.split('/').filter(|p| !p.is_empty()).collect();
        for root in &self.opts.roots {
            for i in 0..parts.len() {
                let mut p = root.clone();
                for part in &parts[i..] {
                    if *part == ".." {
                        continue;
                    }
                    p.push(part);
                }
                out.push(p);
            }
        }
        out
    }

    fn load(&self, file: &str) -> Option<(PathBuf, std::sync::Arc<Vec<String>>)> {
        if !self.opts.enabled || !file.ends_with(".go") {
            return None;
        }
        for path in self.candidates(file) {
            let key = path.to_string_lossy().into_owned();
            if let Some(hit) = self.files.lock().ok()?.get(&key) {
                match hit {
                    Some(lines) => return Some((path, lines.clone())),
                    None => continue,
                }
            }
            let lines = read_lines(&path).map(std::sync::Arc::new);
            self.files.lock().ok()?.insert(key, lines.clone());
            if let Some(l) = lines {
                return Some((path, l));
            }
        }
        None
    }

    /// The facts of `file:line` (1-based), if the file is found.
    pub fn facts(&self, file: &str, line: u32) -> Option<SourceFacts> {
        let (path, lines) = self.load(file)?;
        let idx = (line as usize).checked_sub(1)?;
        let text = lines.get(idx)?.trim();
        let mut waits = Vec::new();
        let mut scan = vec![text];
        if is_select(text) {
            scan.extend(select_cases(&lines, idx));
        }
        for l in scan {
            classify(l, &mut waits);
        }
        if waits.is_empty() || waits == [Waits::Stop] {
            // `<-ch` where ch was given to signal.Notify in the lines above.
            if let Some(ch) = received_channel(text) {
                let from = idx.saturating_sub(NOTIFY_SPAN);
                if lines[from..idx]
                    .iter()
                    .any(|l| l.contains("signal.Notify(") && l.contains(ch))
                {
                    waits.retain(|w| *w != Waits::Stop);
                    waits.push(Waits::Signal);
                }
            }
        }
        Some(SourceFacts {
            path,
            line: shorten(text),
            waits,
        })
    }
}

fn read_lines(path: &Path) -> Option<Vec<String>> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() as u64 > MAX_FILE {
        return None;
    }
    Some(
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

fn shorten(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match clean.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

fn is_select(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("select {") || l == "select{" || l.starts_with("select{")
}

/// The `case` lines of the select that starts at line `idx` (up to its closing brace at the
/// select's indentation, at most [`SELECT_SPAN`] lines).
fn select_cases(lines: &[String], idx: usize) -> Vec<&str> {
    let indent = lines[idx].len() - lines[idx].trim_start().len();
    let mut out = Vec::new();
    for l in lines.iter().skip(idx + 1).take(SELECT_SPAN) {
        let t = l.trim_start();
        let ind = l.len() - t.len();
        if ind <= indent && t.starts_with('}') {
            break;
        }
        if t.starts_with("case ") {
            out.push(t);
        }
    }
    out
}

fn classify(line: &str, out: &mut Vec<Waits>) {
    let mut add = |w| {
        if !out.contains(&w) {
            out.push(w)
        }
    };
    // Only what is received from: `<-X` or `range X`.
    let recv: Vec<&str> = received_exprs(line);
    for e in recv {
        let e = e.trim();
        if e.starts_with("time.Tick(")
            || e.starts_with("time.After(")
            || e.ends_with(".C")
            || e.contains("ticker")
            || e.contains("Ticker")
            || e.contains("timer")
            || e.contains("Timer")
        {
            add(Waits::Timer);
        } else if e.ends_with(".Done()") || e.ends_with("Done()") {
            add(Waits::Context);
        } else if is_stop_name(e) {
            add(Waits::Stop);
        }
    }
}

fn is_stop_name(expr: &str) -> bool {
    let last = expr
        .rsplit(['.', ' ', '('])
        .next()
        .unwrap_or(expr)
        .trim_end_matches(')')
        .to_ascii_lowercase();
    [
        "stop", "quit", "done", "clos", "shutdown", "exit", "die", "kill", "term", "cancel",
    ]
    .iter()
    .any(|w| last.contains(w))
}

/// The expressions received from on a line: after `<-` (to the end of the operand) and after
/// `range`.
fn received_exprs(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("<-") {
        let after = &rest[i + 2..];
        out.push(operand(after));
        rest = after;
    }
    if let Some(i) = line.find("range ") {
        out.push(operand(&line[i + 6..]));
    }
    out
}

/// An operand at the start of `s`: identifiers, dots, calls with balanced parentheses.
fn operand(s: &str) -> &str {
    let s = s.trim_start();
    let mut depth = 0i32;
    let mut end = s.len();
    for (i, c) in s.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' if depth > 0 => depth -= 1,
            ')' | ']' => {
                end = i;
                break;
            }
            ':' | ',' | ';' | '{' | '}' | ' ' | '=' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    &s[..end]
}

fn received_channel(line: &str) -> Option<&str> {
    let e = received_exprs(line).into_iter().next()?;
    let e = e.trim();
    (!e.is_empty()
        && e.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.'))
    .then_some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(line: &str) -> Vec<Waits> {
        let mut v = Vec::new();
        classify(line, &mut v);
        v
    }

    #[test]
    fn classifies_received_channels() {
        assert_eq!(waits("case <-ticker.C:"), vec![Waits::Timer]);
        assert_eq!(
            waits("for range time.Tick(time.Second) {"),
            vec![Waits::Timer]
        );
        assert_eq!(
            waits("case <-time.After(5 * time.Second):"),
            vec![Waits::Timer]
        );
        assert_eq!(waits("case <-ctx.Done():"), vec![Waits::Context]);
        assert_eq!(waits("<-s.stopCh"), vec![Waits::Stop]);
        assert_eq!(waits("case <-quit:"), vec![Waits::Stop]);
        assert_eq!(waits("v := <-results"), Vec::<Waits>::new());
        assert_eq!(waits("ch <- v"), Vec::<Waits>::new());
        assert_eq!(waits("for job := range jobs {"), Vec::<Waits>::new());
    }

    #[test]
    fn reads_select_cases_and_notify() {
        let dir = std::env::temp_dir().join(format!("goroscope-src-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        let f = dir.join("pkg/loop.go");
        std::fs::write(
            &f,
            "package pkg\n\nfunc loop() {\n\tfor {\n\t\tselect {\n\t\tcase <-t.C:\n\t\t\tflush()\n\t\tcase <-ctx.Done():\n\t\t\treturn\n\t\t}\n\t}\n}\n\nfunc sig() {\n\tsigs := make(chan os.Signal, 1)\n\tsignal.Notify(sigs, os.Interrupt)\n\t<-sigs\n}\n",
        )
        .unwrap();
        let s = Sources::new(SourceOptions::local());
        let facts = s.facts(f.to_str().unwrap(), 5).unwrap();
        assert_eq!(facts.waits, vec![Waits::Timer, Waits::Context]);
        assert_eq!(facts.line, "select {");
        let facts = s.facts(f.to_str().unwrap(), 17).unwrap();
        assert_eq!(facts.waits, vec![Waits::Signal]);
        // -trimpath paths map under --source.
        let s = Sources::new(SourceOptions {
            enabled: true,
            roots: vec![dir.clone()],
        });
        assert!(s.facts("example.com/mod/pkg/loop.go", 5).is_some());
        // Disabled, not Go, out of range: nothing.
        assert!(Sources::new(SourceOptions::default())
            .facts(f.to_str().unwrap(), 5)
            .is_none());
        assert!(s.facts("/etc/passwd", 1).is_none());
        assert!(s.facts(f.to_str().unwrap(), 999).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
