//! Flags and subcommands.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use goroscope_analyze::{Similarity, Verdict};
use goroscope_ingest::FormatHint;
use goroscope_render::{OutputFormat, RenderOptions};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "goroscope",
    version,
    about = "Find, prove and prevent goroutine leaks in Go services",
    long_about = "Find, prove and prevent goroutine leaks in Go services.\n\n\
        goroscope reads goroutine dumps of every form Go writes (pprof debug=2, debug=1 and protobuf, \
        SIGQUIT, panic and test-timeout tracebacks, dumps inside logs, the goroutineleak profile) from \
        files, stdin or a live /debug/pprof URL, groups identical stacks, and says which groups leak, \
        where they were created, where they are stuck, and how to fix them.",
    after_help = "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 error.\n\
        Logging: -v/-q or GOROSCOPE_LOG (e.g. GOROSCOPE_LOG=debug). Colour: --color, NO_COLOR."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More diagnostics on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// When to use colours (NO_COLOR in the environment means never, unless 'always').
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read goroutine dumps and explain what leaks.
    #[command(
        after_help = "Examples:\n  goroscope analyze dump.txt\n  curl -s host:6060/debug/pprof/goroutine?debug=2 | goroscope analyze\n  goroscope analyze http://127.0.0.1:6060/debug/pprof/goroutine --prove\n  goroscope analyze dump.txt --output html --out report.html"
    )]
    Analyze(AnalyzeArgs),
    /// What is new or grown in AFTER, matched by stack signature (not goroutine id).
    Diff(DiffArgs),
    /// Growth per group across snapshots in time order (files, or a URL polled with --every).
    Trend(TrendArgs),
    /// Read the goroutines of a running Go process straight from its memory (no pprof endpoint,
    /// no code change; needs ptrace permission, see the README's FAQ).
    #[command(
        after_help = "Examples:\n  sudo goroscope attach $(pidof myservice)\n  goroscope attach 1234 --pause -o json"
    )]
    Attach(AttachArgs),
    /// Run a Go program (a test binary, `go test ./pkg`, following the processes it starts) and
    /// report the goroutines still alive when each Go process exits.
    #[command(
        after_help = "Exit status: 1 when findings at or above --fail-on (default: suspect) are found in an exiting Go\nprocess, else the program's own exit status (2 if goroscope itself fails).\n\nExamples:\n  goroscope run -- go test ./pkg/...\n  goroscope run --fail-on leak -- ./server.test -test.run TestShutdown"
    )]
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Process id of the Go program.
    pub pid: u32,
    #[command(flatten)]
    pub memory: MemoryArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
    pub command: Vec<std::ffi::OsString>,
    /// Also print reports for Go processes that exit with no findings.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub memory: MemoryArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug, Clone)]
pub struct MemoryArgs {
    /// Stop every thread while reading (consistent stacks, running goroutines' stacks from
    /// registers); the target is always resumed, even on error or Ctrl-C.
    #[arg(long)]
    pub pause: bool,
    /// Include runtime goroutines and frames, like GOTRACEBACK=system.
    #[arg(long)]
    pub system: bool,
}

impl MemoryArgs {
    pub fn options(&self) -> goroscope_attach::AttachOptions {
        goroscope_attach::AttachOptions {
            pause: self.pause,
            system: self.system,
            ..Default::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Dump files, '-' for stdin, or http(s)://…/debug/pprof/goroutine URLs. Several inputs give
    /// one report each; a goroutineleak profile among them proves the groups it covers.
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// For URL inputs: also fetch /debug/pprof/goroutineleak (Go ≥ 1.26) to prove leaks. That runs a
    /// costly GC in the service; see --prove-timeout.
    #[arg(long)]
    pub prove: bool,
    /// Time budget for the goroutineleak request.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub prove_timeout: HumanDuration,
    /// Read the goroutines from a core file (GOTRACEBACK=crash or gcore) instead of dumps.
    #[arg(long, conflicts_with = "inputs")]
    pub core: Option<PathBuf>,
    /// With --core: the executable that dumped it (default: the path recorded in the core).
    #[arg(long, requires = "core")]
    pub exe: Option<PathBuf>,
    #[command(flatten)]
    pub memory: MemoryArgs,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The earlier dump.
    pub before: String,
    /// The later dump.
    pub after: String,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct TrendArgs {
    /// Snapshots in time order, or one URL with --every.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Poll the one URL given this often (e.g. 10s, 1m).
    #[arg(long, value_parser = parse_duration)]
    pub every: Option<HumanDuration>,
    /// With --every: how many snapshots to take.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub samples: u32,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Force the input format instead of detecting it.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub format: InputFormat,
    /// For URLs: the whole request's time budget.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: HumanDuration,
    /// For URLs without a debug parameter: which form to ask for (2: full text, 1: counts, 0: protobuf).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub debug: u8,
    /// Reader threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl InputArgs {
    pub fn ingest_options(&self) -> goroscope_ingest::Options {
        goroscope_ingest::Options {
            format: match self.format {
                InputFormat::Auto => None,
                InputFormat::Text => Some(FormatHint::Text),
                InputFormat::Debug1 => Some(FormatHint::Debug1),
                InputFormat::Proto => Some(FormatHint::Proto),
            },
            threads: self.threads,
            http_timeout: self.timeout.into(),
            http_debug: self.debug,
            ..Default::default()
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Detect from the first bytes.
    Auto,
    /// Text tracebacks: debug=2, SIGQUIT, panics, also inside logs.
    Text,
    /// pprof debug=1 text.
    Debug1,
    /// pprof protobuf (gzipped or raw).
    Proto,
}

#[derive(Args, Debug, Clone)]
pub struct AnalysisArgs {
    /// How goroutines are grouped: `exact` (same frames, lines, state and creator), `lines`
    /// (same functions and state, lines and offsets ignored; the default), `blocking` (same
    /// blocking site and state) or `creation` (same `created by` function and state).
    #[arg(long = "group", value_name = "exact|lines|blocking|creation", value_parser = parse_similarity)]
    pub similarity: Option<Similarity>,
    /// Exit 1 when findings of this verdict or worse exist.
    #[arg(long, value_name = "leak|suspect", value_parser = parse_verdict)]
    pub fail_on: Option<Verdict>,
    /// A TOML file with goleak-style ignore rules and rule levels:
    /// `[ignore]` `top_function`, `any_function`, `created_by` (lists of function names, `*`
    /// matches any run of characters) and `[rules]` `RULE = "allow"|"warn"|"deny"`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A dump of the same service taken as the baseline (like goleak's IgnoreCurrent): a group
    /// that has no more goroutines than the baseline had for it is reported as benign.
    #[arg(long)]
    pub baseline: Option<String>,
    /// Allow a rule: its findings are reported as benign (repeatable).
    #[arg(short = 'A', long = "allow", value_name = "RULE")]
    pub allow: Vec<String>,
    /// Warn for a rule: its findings are at most suspects, never leaks (repeatable).
    #[arg(short = 'W', long = "warn", value_name = "RULE")]
    pub warn: Vec<String>,
    /// Deny a rule: its suspects are reported as leaks (repeatable).
    #[arg(short = 'D', long = "deny", value_name = "RULE")]
    pub deny: Vec<String>,
    /// What the moment of the dump means, instead of what the reader states or the analysis
    /// infers: `live` (a running service: blocked alone is not evidence), `exit` (taken as the
    /// process exited: whatever is still blocked is leaked), `test` (a test binary, goleak's
    /// rule), `crash`, `deadlock` (the runtime declared all goroutines asleep).
    #[arg(long, value_name = "live|exit|test|crash|deadlock", value_parser = parse_context)]
    pub context: Option<goroscope_model::Context>,
    /// Look for the Go sources the dump names under DIR too (repeatable): the blocking line
    /// tells a ticker, a context or a signal channel from a data channel. Paths are cut from the
    /// left until a file exists under DIR, so -trimpath paths work.
    #[arg(long = "source", value_name = "DIR")]
    pub source: Vec<PathBuf>,
    /// Never read source files (by default the .go files named in the dump are read where they
    /// exist on this machine, read-only).
    #[arg(long)]
    pub no_source: bool,
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output form: terminal, json (documented in docs/json-schema.md), markdown, html
    /// (self-contained report), svg (flame graph), folded (stacks for flame graph tools), pprof
    /// (gzipped profile for `go tool pprof`) or junit (XML for CI).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORM",
        value_parser = parse_output,
        default_value = "terminal"
    )]
    pub output: OutputFormat,
    /// Write to this file instead of stdout (never replaces an input; an existing file only with --force).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Allow --out to replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// Show at most N findings and groups in full.
    #[arg(long)]
    pub top: Option<usize>,
    /// Terminal width for the terminal report (default: the terminal's, or 100).
    #[arg(long)]
    pub width: Option<usize>,
}

impl OutputArgs {
    pub fn render_options(&self, color: ColorChoice) -> RenderOptions {
        use std::io::IsTerminal;
        let tty = self.out.is_none() && std::io::stdout().is_terminal();
        RenderOptions {
            color: color.enabled(tty),
            width: self.width.or_else(terminal_width).unwrap_or(100),
            top: self.top,
            ..Default::default()
        }
    }
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS").ok()?.parse().ok()
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn enabled(self, is_tty: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// A duration written like `30s`, `5m`, `1h`, `250ms`.
#[derive(Debug, Clone, Copy)]
pub struct HumanDuration(pub Duration);

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Duration {
        d.0
    }
}

pub fn parse_duration(s: &str) -> Result<HumanDuration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}': expected a duration like 30s, 5m, 250ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use ms, s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!("'{s}': must be positive"));
    }
    Ok(HumanDuration(Duration::from_secs_f64(secs)))
}

fn parse_similarity(s: &str) -> Result<Similarity, String> {
    Similarity::parse(s)
        .ok_or_else(|| format!("'{s}': expected one of exact, lines, blocking, creation"))
}

fn parse_context(s: &str) -> Result<goroscope_model::Context, String> {
    goroscope_model::Context::parse(s)
        .ok_or_else(|| format!("'{s}': expected one of live, exit, test, crash, deadlock"))
}

fn parse_verdict(s: &str) -> Result<Verdict, String> {
    match Verdict::parse(s) {
        Some(v @ (Verdict::Leak | Verdict::Suspect)) => Ok(v),
        _ => Err(format!("'{s}': expected leak or suspect")),
    }
}

fn parse_output(s: &str) -> Result<OutputFormat, String> {
    OutputFormat::from_str(s).map_err(|e| e.to_string())
}

impl AnalysisArgs {
    pub fn options(&self) -> Result<goroscope_analyze::Options> {
        let mut opts = goroscope_analyze::Options::default();
        if let Some(s) = self.similarity {
            opts.similarity = s;
        }
        opts.context = self.context;
        opts.source = goroscope_analyze::SourceOptions {
            enabled: !self.no_source,
            roots: self.source.clone(),
        };
        if let Some(path) = &self.config {
            opts.config = goroscope_analyze::Config::load(path)
                .with_context(|| format!("reading --config {}", path.display()))?;
        }
        use goroscope_analyze::Level;
        for (rules, level) in [
            (&self.allow, Level::Allow),
            (&self.warn, Level::Warn),
            (&self.deny, Level::Deny),
        ] {
            for r in rules {
                opts.set_level(r, level).map_err(anyhow::Error::msg)?;
            }
        }
        if let Some(b) = &self.baseline {
            let mut snaps = goroscope_ingest::read_input(b, &Default::default())
                .with_context(|| format!("reading --baseline {b}"))?;
            if snaps.len() != 1 {
                anyhow::bail!("--baseline {b}: holds {} dumps; give one", snaps.len());
            }
            opts = opts.with_baseline(&snaps.pop().unwrap());
        }
        Ok(opts)
    }
}

/// `http://h/debug/pprof/goroutine?…` → `http://h/debug/pprof/goroutineleak?debug=1`.
pub fn leak_profile_url(input: &str) -> Option<String> {
    if !(input.starts_with("http://") || input.starts_with("https://")) {
        return None;
    }
    let base = input.split('?').next()?;
    let base = base.trim_end_matches('/');
    let root = if let Some(r) = base.strip_suffix("/goroutine") {
        r
    } else if base.ends_with("/goroutineleak") {
        return None;
    } else if base.ends_with("/debug/pprof") {
        base
    } else {
        return None;
    };
    Some(format!("{root}/goroutineleak?debug=1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap().0, Duration::from_secs(30));
        assert_eq!(
            parse_duration("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("2m").unwrap().0, Duration::from_secs(120));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }

    #[test]
    fn leak_urls() {
        assert_eq!(
            leak_profile_url("http://h:1/debug/pprof/goroutine?debug=2").as_deref(),
            Some("http://h:1/debug/pprof/goroutineleak?debug=1")
        );
        assert_eq!(
            leak_profile_url("http://h:1/debug/pprof/").as_deref(),
            Some("http://h:1/debug/pprof/goroutineleak?debug=1")
        );
        assert_eq!(leak_profile_url("dump.txt"), None);
        assert_eq!(leak_profile_url("http://h/debug/pprof/goroutineleak"), None);
    }
}
