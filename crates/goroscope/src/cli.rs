//! Flags and subcommands.
//!
//! The derive types below hold the flags; [`command`] completes them with what only the
//! libraries know: the `--output` forms each command can write (from goroscope-render's table of
//! renderers), the rule ids `-A/-W/-D` accept (from goroscope-analyze's rule catalog) and each
//! command's `--fail-on` default.

use anyhow::{Context, Result};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use goroscope_analyze::{Similarity, Verdict};
use goroscope_ingest::FormatHint;
use goroscope_render::{OutputFormat, RenderOptions, Subject};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "goroscope",
    version,
    about = "Find, prove and prevent goroutine leaks in Go services",
    long_about = "Find, prove and prevent goroutine leaks in Go services.\n\n\
        goroscope reads goroutine dumps of every form Go writes (pprof debug=2, debug=1 and protobuf, \
        SIGQUIT, panic and test-timeout tracebacks, dumps inside logs, the goroutineleak profile) and \
        Go execution traces from files, stdin or a live /debug/pprof URL, groups identical stacks, and \
        says which groups leak, where they were created, where they are stuck, and how to fix them.",
    after_help = "Exit codes: 0 when nothing reaches --fail-on, 1 when findings do (default: leak; \
        `run`: suspect, else the program's own status), 2 on an error (also when one of several \
        inputs could not be read: the others are still reported).\n\
        Detail: -v adds evidence, goroutine ids and stacks to the report (-vv: everything) and \
        info logs on stderr; -q only errors. GOROSCOPE_LOG (e.g. debug) sets the log level. \
        Colour: --color, NO_COLOR."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More detail: in the report (evidence, goroutine ids, stacks, every row; -vv: every
    /// warning and every group in full) and in diagnostics on stderr.
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
        after_help = "Examples:\n  goroscope analyze dump.txt\n  curl -s host:6060/debug/pprof/goroutine?debug=2 | goroscope analyze\n  goroscope analyze http://127.0.0.1:6060/debug/pprof/goroutine --prove\n  goroscope analyze http://127.0.0.1:6060 --trace 5s\n  goroscope analyze trace.out --output html --out report.html"
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
        after_help = "Exit status: 1 when findings at or above --fail-on (default: suspect) are found in an exiting Go\nprocess, else the program's own exit status (2 if goroscope itself fails).\n\nExamples:\n  goroscope run -- go test ./pkg/...\n  goroscope run --fail-on leak -- ./server.test -test.run TestShutdown\n  goroscope run --trace -- go test -run TestShutdown ./server"
    )]
    Run(RunArgs),
    /// Follow every goroutine's birth and death in a running Go process with eBPF (no code
    /// change, no restart): a live view, then a report with each creation site's lifecycle.
    #[command(
        after_help = "Needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE) and a goroscope built with the `ebpf` feature.\n\nExamples:\n  sudo goroscope trace $(pidof myservice) --for 60s\n  goroscope trace 1234 --for 30s -o json --events events.jsonl"
    )]
    Trace(crate::ebpf::TraceArgs),
    /// List the leak rules (ids for -A/-W/-D and the config's [rules]), or explain one.
    Rules(RulesArgs),
    /// CI gate for a running service: take a baseline, run a workload (N times), let the
    /// goroutines settle, and fail on groups the workload left behind.
    #[command(
        after_help = "Exit status: 0 clean, 1 goroutines left behind (with --repeat N ≥ 2: groups that grow with the runs),\n2 error (the workload failed, the service exited or was not ready, …; no verdict).\n\nExamples:\n  goroscope check --target http://127.0.0.1:6060 --repeat 5 --requests 100 -- ./load-test -n 100\n  goroscope check --start './server' --ready http://127.0.0.1:8080/healthz --target pid --repeat 5 -- ./load-test\n  goroscope check --target pid:1234 --duration 30s --repeat 4 --junit goroutines.xml"
    )]
    Check(CheckArgs),
    /// Keep Go services under continuous goroutine watch: history, growth and budget alerts,
    /// Prometheus /metrics and a web dashboard.
    #[command(
        after_help = "Examples:\n  goroscope watch http://127.0.0.1:6060/debug/pprof/goroutine   # dashboard on http://127.0.0.1:9184/\n  goroscope watch --config goroscope.toml\n  goroscope watch --file-sd targets.json --shard 0/3 --db shard0.db\n  goroscope watch --from-prometheus http://127.0.0.1:9090 --pprof-port 6060"
    )]
    Watch(WatchArgs),
    /// Query a watcher's history file: its targets, a target's groups, a group's series.
    #[command(
        after_help = "Examples:\n  goroscope history --db goroscope.db\n  goroscope history --db goroscope.db orders --since 6h\n  goroscope history --db goroscope.db orders 5f3a9c0e12ab34cd -o csv\n\nSnapshots from the history are inputs too: goroscope analyze db:TARGET@TIME (file from GOROSCOPE_DB, default goroscope.db)."
    )]
    History(HistoryArgs),
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// A rule id: show what it detects, why it leaks, an example and the fix.
    pub rule: Option<String>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Where to read goroutines: the service's pprof URL (`http://host:port` is completed to
    /// /debug/pprof/goroutine), `pid:PID` (read from memory: no pprof endpoint needed; needs
    /// ptrace rights, see `attach`), or `pid` (the Go program --start started).
    #[arg(long, value_name = "URL|pid:PID|pid")]
    pub target: String,
    /// Start the service with this shell command (in its own process group, its output kept in
    /// files the report names); it is stopped at the end (SIGTERM, SIGKILL after --stop-timeout).
    #[arg(long, value_name = "CMD")]
    pub start: Option<String>,
    /// With --start: poll this URL until it answers 2xx (default: poll the target until a
    /// snapshot can be taken).
    #[arg(long, value_name = "URL", requires = "start")]
    pub ready: Option<String>,
    /// How long the service may take to be ready (the target to answer).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub ready_timeout: HumanDuration,
    /// With --start: grace period between SIGTERM and SIGKILL when stopping the service.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration, requires = "start")]
    pub stop_timeout: HumanDuration,
    /// A TOML file with ignore rules and rule levels (the same as `analyze --config`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run the workload N times. With N ≥ 2 only groups that grow with the runs fail (what run 1
    /// adds — pools, caches, keep-alive connections — is warm-up); with 1, anything new does.
    /// At most 100 (every run's snapshot is kept until the decision).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Instead of a workload command: wait this long per run while something else drives the
    /// service.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<HumanDuration>,
    /// Requests your workload sends per run: growth is also reported per request.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// How long the goroutines may take to settle after each run (then the last poll is used
    /// and the report says so).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub settle_timeout: HumanDuration,
    /// Stop a workload run that takes longer than this (exit 2).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub workload_timeout: Option<HumanDuration>,
    /// Report form: terminal, json (the check document of docs/json-schema.md) or markdown.
    #[arg(short = 'o', long = "output", value_name = "FORM", default_value = "terminal",
          value_parser = |s: &str| s.parse::<goroscope_check::render::CheckFormat>())]
    pub output: goroscope_check::render::CheckFormat,
    /// Also write JUnit XML to FILE: one test case per leaked group (an error case when the check
    /// cannot decide).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Keep the service's and workload's output in DIR (default: a new goroscope-check-*
    /// directory under the temporary directory).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// The workload command and its arguments (after `--`), run once per run; a non-zero exit
    /// is an error (exit 2), not a verdict.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..,
          required_unless_present = "duration", conflicts_with = "duration")]
    pub workload: Vec<std::ffi::OsString>,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Targets: pprof URLs (host:port, /debug/pprof/ or the goroutine endpoint), pid:PID
    /// (read with attach), or dump files re-read at each poll.
    pub targets: Vec<String>,
    /// A TOML config: targets with labels and credentials, discovery, budgets, alert sinks,
    /// retention (see goroscope.example.toml). Flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Poll interval (default 15s).
    #[arg(long, value_parser = parse_duration)]
    pub every: Option<HumanDuration>,
    /// Dashboard, JSON API and /metrics address (default 127.0.0.1:9184; loopback only unless --allow-remote).
    #[arg(long)]
    pub listen: Option<String>,
    /// Serve on a non-loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// History file (SQLite; default goroscope.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Take only the targets whose key hashes to I modulo N, so N watchers split a fleet.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Prometheus file-SD file (JSON or YAML; a * glob in the name), re-read when it changes (repeatable).
    #[arg(long)]
    pub file_sd: Vec<PathBuf>,
    /// Prometheus HTTP-SD endpoint (repeatable).
    #[arg(long)]
    pub http_sd: Vec<String>,
    /// Watch the targets this Prometheus server scrapes (/api/v1/targets).
    #[arg(long, value_name = "URL")]
    pub from_prometheus: Option<String>,
    /// For discovered targets: poll the pprof endpoint on this port of each address.
    #[arg(long)]
    pub pprof_port: Option<u16>,
    /// Do not print alerts as JSON lines on stdout.
    #[arg(long)]
    pub no_stdout_alerts: bool,
    /// Trace pid: targets with eBPF: births, deaths and live goroutines per creation site, and
    /// the sites that leak (needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE, and a
    /// goroscope built with the `ebpf` feature).
    #[arg(long)]
    pub trace: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// A target: its key, id (see the list) or a unique label value or part of its key.
    pub target: Option<String>,
    /// A group id of that target: its series.
    pub group: Option<String>,
    /// History file.
    #[arg(long, default_value = "goroscope.db")]
    pub db: PathBuf,
    /// How far back.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub since: HumanDuration,
    /// table, json or csv.
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json", "csv"])]
    pub output: String,
}

impl WatchArgs {
    /// The config the flags describe, on top of --config.
    pub fn config(
        &self,
    ) -> Result<(
        goroscope_watch::config::WatchConfig,
        Vec<goroscope_watch::target::Target>,
    )> {
        use goroscope_watch::config as wc;
        let mut cfg = match &self.config {
            Some(p) => wc::WatchConfig::load(p)?,
            None => wc::WatchConfig::default(),
        };
        if self.trace {
            let pid_named = self.targets.iter().any(|t| t.starts_with("pid:"))
                || cfg.targets.iter().any(|t| t.pid.is_some());
            if !pid_named {
                anyhow::bail!("--trace traces pid:PID targets (eBPF probes go into a process on this machine); name one, e.g. goroscope watch --trace pid:1234");
            }
            cfg.watch.trace = true;
        }
        if let Some(e) = self.every {
            cfg.watch.every = wc::Dur(e.0);
        }
        if let Some(l) = &self.listen {
            cfg.watch.listen = l.clone();
        }
        cfg.watch.allow_remote |= self.allow_remote;
        if let Some(d) = &self.db {
            cfg.watch.db = d.clone();
            cfg.path = None;
        }
        if let Some(s) = &self.shard {
            cfg.watch.shard = wc::Shard::parse(s).map_err(|e| anyhow::anyhow!("--shard {e}"))?;
        }
        if self.no_stdout_alerts {
            cfg.watch.stdout_alerts = false;
        }
        let relabel = self.pprof_port.map(|p| wc::Relabel {
            regex: "(.*):[0-9]+".into(),
            replacement: format!("${{1}}:{p}"),
        });
        for f in &self.file_sd {
            cfg.file_sd.push(wc::FileSdSection {
                path: f.clone(),
                refresh: None,
                relabel: relabel.clone(),
            });
        }
        for u in &self.http_sd {
            cfg.http_sd.push(wc::HttpSdSection {
                url: u.clone(),
                refresh: None,
                relabel: relabel.clone(),
            });
        }
        if let Some(u) = &self.from_prometheus {
            cfg.from_prometheus = Some(wc::FromPrometheusSection {
                url: u.clone(),
                refresh: None,
                jobs: vec![],
                relabel: relabel.clone(),
            });
        }
        let targets = self
            .targets
            .iter()
            .map(|t| goroscope_watch::target::Target::from_arg(t, &cfg))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((cfg, targets))
    }
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
    /// Have the Go test binary write an execution trace and add its lifecycles to the report
    /// (when each leaked goroutine was created and by whom, births and deaths per `go`
    /// statement): adds -test.trace=FILE to a NAME.test binary, -trace=FILE to `go test` of one
    /// package, or reads the file of a trace flag the command already has.
    #[arg(long)]
    pub trace: bool,
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
    /// registers); the target is always resumed, even on error or Ctrl-C. Only for a live
    /// process (attach, run).
    #[arg(long)]
    pub pause: bool,
    /// Include runtime goroutines and frames, like GOTRACEBACK=system. Only for memory reads
    /// (attach, run, --core).
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
    /// Dump files, execution traces (runtime/trace, go test -trace), '-' for stdin, or
    /// http(s)://…/debug/pprof/goroutine URLs (with --trace, the service's execution trace).
    /// Several inputs give one report each; a goroutineleak profile among them proves the groups
    /// it covers.
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
    /// Time budget for the goroutineleak request (with --prove).
    #[arg(long, default_value = "60s", value_parser = parse_duration, requires = "prove")]
    pub prove_timeout: HumanDuration,
    /// Read the goroutines from a core file (GOTRACEBACK=crash or gcore) instead of dumps.
    #[arg(long, conflicts_with_all = ["inputs", "prove"])]
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
    /// Snapshots in time order, one URL with --every, or one execution trace (a file, or a
    /// URL with --trace): the alive count per `go` statement over its window.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Poll the one URL given this often (e.g. 10s, 1m). A failed poll is a gap in the series,
    /// not the end of it (a failed first poll is an error).
    #[arg(long, value_parser = parse_duration)]
    pub every: Option<HumanDuration>,
    /// With --every: how many polls to make.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=10_000), requires = "every")]
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
    /// For URLs: take an execution trace this long (e.g. 5s; /debug/pprof/trace?seconds=N,
    /// whole seconds) instead of a goroutine dump. The report adds, per `go` statement, the
    /// goroutines born, ended and alive, their lifetimes and blocked time, and decides what one
    /// dump cannot (a site whose goroutines never end while their siblings do is leaking).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub trace: Option<HumanDuration>,
}

impl InputArgs {
    pub fn ingest_options(&self) -> goroscope_ingest::Options {
        goroscope_ingest::Options {
            format: match self.format {
                InputFormat::Auto => None,
                InputFormat::Text => Some(FormatHint::Text),
                InputFormat::Debug1 => Some(FormatHint::Debug1),
                InputFormat::Proto => Some(FormatHint::Proto),
                InputFormat::Trace => Some(FormatHint::ExecTrace),
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
    /// A Go execution trace (Go 1.22+; gzipped or raw).
    Trace,
}

/// `--fail-on`: which verdicts make the exit status 1.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Leaks (proven, or certain from one snapshot, or growing in a trend).
    Leak,
    /// Leaks and suspects.
    Suspect,
    /// Never: exit 0 unless an error happens.
    Never,
}

impl FailOn {
    /// The verdict at or above which a finding fails, if any.
    pub fn threshold(self) -> Option<Verdict> {
        match self {
            FailOn::Leak => Some(Verdict::Leak),
            FailOn::Suspect => Some(Verdict::Suspect),
            FailOn::Never => None,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct AnalysisArgs {
    /// How goroutines are grouped: `exact` (same frames, lines, state and creator), `lines`
    /// (same functions and state, lines and offsets ignored; the default), `blocking` (same
    /// blocking site and state) or `creation` (same `created by` function and state).
    #[arg(long = "group", value_name = "exact|lines|blocking|creation", value_parser = parse_similarity)]
    pub similarity: Option<Similarity>,
    /// Exit 1 when findings of this verdict or worse exist; `never` always exits 0 unless an
    /// error happens (2).
    #[arg(long, value_enum, default_value_t = FailOn::Leak)]
    pub fail_on: FailOn,
    /// A TOML file with goleak-style ignore rules and rule levels:
    /// `[ignore]` `top_function`, `any_function`, `created_by` (lists of function names, `*`
    /// matches any run of characters) and `[rules]` `RULE = "allow"|"warn"|"deny"`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A dump of the same service taken as the baseline (like goleak's IgnoreCurrent): a group
    /// that has no more goroutines than the baseline had for it is reported as benign.
    #[arg(long)]
    pub baseline: Option<String>,
    /// Allow a rule: its findings are reported as benign (repeatable; ids below).
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
    /// Output form, one of those this command writes.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORM",
        value_parser = FormatParser(Subject::Report),
        default_value = "terminal"
    )]
    pub output: OutputFormat,
    /// Write to this file instead of stdout ('-': stdout). Never replaces an input, and replaces
    /// an existing regular file only with --force (never a link, a FIFO or a device).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Allow --out to replace an existing regular file.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Show at most N findings and groups in full (terminal and markdown).
    #[arg(long)]
    pub top: Option<usize>,
    /// Columns of the terminal report (default: $COLUMNS, else the terminal's width, else 100).
    #[arg(long)]
    pub width: Option<usize>,
}

impl OutputArgs {
    /// Whether the report goes to stdout (no `--out`, or `--out -`).
    pub fn to_stdout(&self) -> bool {
        self.out.as_deref().is_none_or(|p| p.as_os_str() == "-")
    }

    pub fn render_options(&self, color: ColorChoice, verbose: u8) -> RenderOptions {
        use std::io::IsTerminal;
        let tty = self.to_stdout() && std::io::stdout().is_terminal();
        RenderOptions {
            color: color.enabled(tty),
            width: self.width.or_else(terminal_width).unwrap_or(100),
            top: self.top,
            verbose,
            ..Default::default()
        }
    }
}

/// The width to lay the terminal report out for: `$COLUMNS` when the user exported it, else the
/// width of the terminal on stdout (or, when stdout is a pipe into a pager, on stderr).
pub fn terminal_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
    {
        return Some(c);
    }
    let size = terminal_size::terminal_size_of(std::io::stdout())
        .or_else(|| terminal_size::terminal_size_of(std::io::stderr()))?;
    Some(usize::from(size.0 .0)).filter(|&w| w > 0)
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

/// `--output` for one command: accepts (and lists, with what each writes) only the forms whose
/// renderer supports the command's subject.
#[derive(Clone, Copy)]
pub struct FormatParser(pub Subject);

impl TypedValueParser for FormatParser {
    type Value = OutputFormat;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<OutputFormat, clap::Error> {
        let s = value.to_string_lossy();
        OutputFormat::parse_for(&s, self.0).map_err(|_| {
            let mut err = clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd);
            use clap::error::{ContextKind, ContextValue};
            if let Some(a) = arg {
                err.insert(ContextKind::InvalidArg, ContextValue::String(a.to_string()));
            }
            err.insert(ContextKind::InvalidValue, ContextValue::String(s.into()));
            err.insert(
                ContextKind::ValidValue,
                ContextValue::Strings(
                    OutputFormat::supporting(self.0)
                        .map(|f| f.as_str().to_string())
                        .collect(),
                ),
            );
            err
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let subject = self.0;
        Some(Box::new(OutputFormat::supporting(subject).map(move |f| {
            PossibleValue::new(f.as_str())
                .aliases(f.renderer().aliases().iter().copied())
                .help(f.renderer().about(subject))
        })))
    }
}

/// The subject a command's `--output` writes.
fn subject_of(command: &str) -> Option<Subject> {
    match command {
        "analyze" | "attach" | "run" | "trace" => Some(Subject::Report),
        "diff" => Some(Subject::Diff),
        "trend" => Some(Subject::Trend),
        _ => None,
    }
}

/// The whole command line: the derive's flags, with per-command `--output` forms, rule ids and
/// `--fail-on` defaults filled in from the libraries.
pub fn command() -> clap::Command {
    let rule_ids: Vec<&'static str> = goroscope_analyze::rules::ALL.iter().map(|r| r.id).collect();
    let rules_help = format!(
        "Rules for -A/-W/-D (`goroscope rules RULE` explains one): {}.",
        rule_ids.join(", ")
    );
    let mut cmd = Cli::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let Some(subject) = subject_of(&name) else {
            continue;
        };
        let rules_help = rules_help.clone();
        let ids = rule_ids.clone();
        let is_run = name == "run";
        cmd = cmd.mut_subcommand(&name, move |mut sc| {
            sc = sc.mut_arg("output", |a| a.value_parser(FormatParser(subject)));
            for id in ["allow", "warn", "deny"] {
                let ids = ids.clone();
                sc = sc.mut_arg(id, |a| {
                    a.value_parser(PossibleValuesParser::new(ids))
                        .hide_possible_values(true)
                });
            }
            if is_run {
                sc = sc.mut_arg("fail_on", |a| a.default_value("suspect"));
            }
            let after = match sc.get_after_help() {
                Some(h) => format!("{rules_help}\n\n{h}"),
                None => rules_help,
            };
            sc.after_help(after)
        });
    }
    cmd
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
            let shown = goroscope_model::redact_url(b);
            let mut snaps = goroscope_ingest::read_input(b, &Default::default())
                .with_context(|| format!("reading --baseline {shown}"))?;
            if snaps.len() != 1 {
                anyhow::bail!("--baseline {shown}: holds {} dumps; give one", snaps.len());
            }
            opts = opts.with_baseline(&snaps.pop().unwrap());
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_consistent() {
        command().debug_assert();
    }

    #[test]
    fn output_forms_follow_the_renderers() {
        let cmd = command();
        for (name, subject) in [
            ("analyze", Subject::Report),
            ("diff", Subject::Diff),
            ("trend", Subject::Trend),
            ("attach", Subject::Report),
            ("run", Subject::Report),
        ] {
            let sc = cmd.find_subcommand(name).unwrap();
            let arg = sc.get_arguments().find(|a| a.get_id() == "output").unwrap();
            let listed: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|p| p.get_name().to_string())
                .collect();
            let want: Vec<String> = OutputFormat::supporting(subject)
                .map(|f| f.as_str().to_string())
                .collect();
            assert_eq!(listed, want, "{name}");
        }
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
}
