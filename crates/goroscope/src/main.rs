//! The goroscope command line: parses flags, builds library options, picks renderers and maps
//! errors to exit codes. Everything a library user would want lives in the library crates.

mod cli;
mod ebpf;
mod output;
mod rules;
mod trace;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, FromArgMatches};
use cli::{Cli, ColorChoice, Command};
use goroscope_model::Snapshot;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Exit codes (see DESIGN.md): 0 nothing at or above `--fail-on`, 1 findings at or above it,
/// 2 error.
const EXIT_FINDINGS: u8 = 1;
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let matches = cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_logging(cli.verbose, cli.quiet, cli.color);
    let given = matches
        .subcommand()
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    let mut app = App {
        color: cli.color,
        verbose: cli.verbose,
        given,
        failed_inputs: 0,
    };
    match app.run(cli.command) {
        // Some inputs could not be read: the others were reported, and the status says so.
        Ok(_) if app.failed_inputs > 0 => ExitCode::from(EXIT_ERROR),
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if output::is_broken_pipe(&err) {
                // A closed pipe (`goroscope … | head`) is not an error.
                return ExitCode::SUCCESS;
            }
            print_error(&err);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Text for stderr: URL secrets redacted, control characters (from a dump or a file name)
/// escaped so they cannot drive the terminal.
pub(crate) fn clean(text: &str) -> String {
    let redacted = goroscope_model::redact_urls_in(text);
    goroscope_render::escape::controls(&redacted).into_owned()
}

/// An error chain as one line. Each cause is shown once: a message that already contains its
/// cause's text (`x: No such file or directory (os error 2)` over that very OS error) does not
/// repeat it.
pub(crate) fn error_text(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if s.is_empty() || parts.iter().any(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    clean(&parts.join(": "))
}

fn print_error(err: &anyhow::Error) {
    eprintln!("goroscope: error: {}", error_text(err));
}

/// A warning on stderr (through the log, so `-q` silences it).
pub(crate) fn warn(msg: &str) {
    tracing::warn!("{}", clean(msg));
}

fn init_logging(verbose: u8, quiet: bool, color: ColorChoice) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("GOROSCOPE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = color.enabled(std::io::stderr().is_terminal());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .without_time()
        .with_target(false)
        .try_init();
}

fn cmd_watch(args: cli::WatchArgs) -> Result<u8> {
    let (cfg, targets) = args.config()?;
    let w = goroscope_watch::Watcher::start(cfg, targets)?;
    eprintln!(
        "goroscope watch: dashboard {} · metrics {}metrics",
        w.url(),
        w.url()
    );
    w.wait_for_signal();
    Ok(0)
}

fn cmd_history(args: cli::HistoryArgs) -> Result<u8> {
    let h = goroscope_watch::history::query(
        &args.db,
        args.target.as_deref(),
        args.group.as_deref(),
        args.since.into(),
    )?;
    let mut out = std::io::stdout().lock();
    goroscope_watch::history::write(&mut out, &h, &args.output)?;
    Ok(0)
}

/// Reads an input: a `db:TARGET@TIME` snapshot from a watcher's history, or what ingest reads.
fn read_input(input: &str, opts: &goroscope_ingest::Options) -> Result<Vec<Snapshot>> {
    if let Some(spec) = goroscope_watch::parse_db_input(input) {
        let (db, target, at) = spec.map_err(anyhow::Error::msg)?;
        return Ok(vec![goroscope_watch::load_snapshot(&db, &target, at)?]);
    }
    Ok(goroscope_ingest::read_input(input, opts)?)
}

fn is_url(input: &str) -> bool {
    input.starts_with("http://") || input.starts_with("https://")
}

/// What every command shares: how to present, what the user typed, and the inputs that could
/// not be read (reported as they happen; the exit status is 2 at the end).
struct App {
    color: ColorChoice,
    verbose: u8,
    /// The subcommand's matches, to tell flags the user gave from defaults.
    given: ArgMatches,
    failed_inputs: usize,
}

impl App {
    fn run(&mut self, command: Command) -> Result<u8> {
        match command {
            Command::Analyze(args) => self.cmd_analyze(args),
            Command::Diff(args) => self.cmd_diff(args),
            Command::Trend(args) => self.cmd_trend(args),
            Command::Attach(args) => self.cmd_attach(args),
            Command::Run(args) => self.cmd_run(args),
            Command::Trace(args) => self.cmd_trace(args),
            Command::Check(args) => cmd_check(args, self.color),
            Command::Rules(args) => {
                rules::cmd_rules(&args, cli::terminal_width().unwrap_or(100)).map(|()| 0)
            }
            Command::Watch(args) => cmd_watch(args),
            Command::History(args) => cmd_history(args),
        }
    }

    /// Whether the user typed `--id` (not a default).
    fn given(&self, id: &str) -> bool {
        self.given.value_source(id) == Some(ValueSource::CommandLine)
    }

    /// Refuses or warns about output flags that would do nothing for the chosen form.
    fn check_output(&self, out: &cli::OutputArgs) -> Result<()> {
        let form = out.output.as_str();
        if self.given("top") && !matches!(form, "terminal" | "markdown") {
            warn(&format!(
                "--top applies to the terminal and markdown reports; -o {form} writes every group"
            ));
        }
        if self.given("width") && form != "terminal" {
            warn(&format!(
                "--width applies to the terminal report; -o {form} has no width"
            ));
        }
        if out.output.is_binary() && out.to_stdout() && std::io::stdout().is_terminal() {
            anyhow::bail!(
                "-o {form} writes binary data; send it to a file (--out FILE) or through a pipe"
            );
        }
        Ok(())
    }

    /// Reads every input, reporting (and counting) the ones that cannot be read and going on
    /// with the others, as ripgrep does. One input may hold several dumps.
    fn read_each(&mut self, inputs: &[String], opts: &goroscope_ingest::Options) -> Vec<Snapshot> {
        let mut out = Vec::new();
        for input in inputs {
            match read_input(input, opts) {
                Ok(snaps) => {
                    for s in &snaps {
                        for w in &s.warnings {
                            warn(&format!("{}: {w}", s.source.input));
                        }
                    }
                    out.extend(snaps);
                }
                Err(e) => {
                    print_error(&e);
                    self.failed_inputs += 1;
                }
            }
        }
        out
    }

    fn cmd_analyze(&mut self, args: cli::AnalyzeArgs) -> Result<u8> {
        self.check_output(&args.output)?;
        if args.memory.pause {
            anyhow::bail!(
                "--pause stops the threads of a running process (`attach`, `run`); a dump or a core file is not running"
            );
        }
        if args.exe.is_some() && args.core.is_none() {
            // clap's `requires` lets this through when inputs are named.
            anyhow::bail!("--exe names the executable of a --core file; there is no --core");
        }
        let ingest = args.input.ingest_options();
        let mut protected: Vec<String> = Vec::new();
        if let Some(core) = &args.core {
            for flag in ["format", "timeout", "debug", "threads", "trace"] {
                if self.given(flag) {
                    anyhow::bail!("--{flag} is for reading dumps; it does nothing with --core");
                }
            }
            let snap =
                // The error names the core (and the executable) itself.
                goroscope_attach::read_core(core, args.exe.as_deref(), &args.memory.options())?;
            protected.push(core.display().to_string());
            if let Some(exe) = &args.exe {
                protected.push(exe.display().to_string());
            }
            return self.report(vec![snap], &protected, &args.analysis, &args.output);
        }
        if args.memory.system {
            anyhow::bail!(
                "--system applies to memory reads (--core, `attach`, `run`); a dump shows the goroutines GOTRACEBACK chose when it was written"
            );
        }
        let mut inputs = args.inputs.clone();
        if inputs.is_empty() {
            if std::io::stdin().is_terminal() {
                anyhow::bail!(
                    "no input: name a dump file, '-' for stdin, or a /debug/pprof URL (see --help)"
                );
            }
            inputs.push("-".into());
        }
        let any_url = inputs.iter().any(|i| is_url(i));
        if args.prove && !any_url {
            anyhow::bail!(
                "--prove fetches the goroutineleak profile of a URL input, and none of the inputs is a URL; for a file, save /debug/pprof/goroutineleak?debug=1 too and name both"
            );
        }
        if !any_url {
            for flag in ["timeout", "debug"] {
                if self.given(flag) {
                    warn(&format!(
                        "--{flag} applies to URL inputs; none of the inputs is one, so it does nothing"
                    ));
                }
            }
        }
        let read = self.traced(&inputs, &args.input)?;
        let mut snapshots = self.read_each(&read, &ingest);
        if args.prove {
            for input in &inputs {
                if let Some(url) = goroscope_ingest::url::leak_profile_url(input) {
                    let mut o = ingest.clone();
                    o.http_timeout = args.prove_timeout.into();
                    match goroscope_ingest::read_input(&url, &o) {
                        Ok(mut s) => snapshots.append(&mut s),
                        Err(e) => warn(&format!(
                            "--prove: could not fetch the goroutineleak profile: {}",
                            error_text(&anyhow::Error::new(e))
                        )),
                    }
                } else if is_url(input) {
                    warn(&format!(
                        "--prove: {} is not a /debug/pprof/goroutine URL; no proof fetched for it",
                        goroscope_model::redact_url(input)
                    ));
                }
            }
        }
        if snapshots.is_empty() && self.failed_inputs > 0 {
            // Every input failed and each said why.
            return Ok(EXIT_ERROR);
        }
        protected.extend(inputs.iter().cloned());
        self.report(snapshots, &protected, &args.analysis, &args.output)
    }

    /// What to read for `inputs`: with `--trace`, URL inputs become their service's execution
    /// trace URL; other inputs are read as they are (said once).
    fn traced(&self, inputs: &[String], args: &cli::InputArgs) -> Result<Vec<String>> {
        let Some(window) = args.trace else {
            return Ok(inputs.to_vec());
        };
        let (read, unchanged) = trace::trace_inputs(inputs, window.into())?;
        if !unchanged.is_empty() {
            warn(&format!(
                "--trace takes the execution trace of a URL input; {} {} read as {} (a trace file needs no flag)",
                unchanged.join(", "),
                if unchanged.len() == 1 { "is" } else { "are" },
                if unchanged.len() == 1 { "it is" } else { "they are" }
            ));
        }
        Ok(read)
    }

    /// Analyses snapshots, writes the reports, and returns the exit code `--fail-on` asks for.
    fn report(
        &self,
        snapshots: Vec<Snapshot>,
        inputs: &[String],
        analysis: &cli::AnalysisArgs,
        out: &cli::OutputArgs,
    ) -> Result<u8> {
        let opts = analysis.options()?;
        let reports = goroscope_analyze::analyze(&snapshots, &opts);
        let fail = analysis
            .fail_on
            .threshold()
            .is_some_and(|t| goroscope_analyze::fails(&reports, t));
        let render = out.render_options(self.color, self.verbose);
        let protected = protected_paths(inputs, analysis);
        output::write(out, &protected, |w| {
            goroscope_render::render(w, out.output, &reports, &snapshots, &render)
        })?;
        Ok(if fail { EXIT_FINDINGS } else { 0 })
    }

    fn cmd_attach(&mut self, args: cli::AttachArgs) -> Result<u8> {
        self.check_output(&args.output)?;
        // The error names the pid itself.
        let snap = goroscope_attach::attach_pid(args.pid, &args.memory.options())?;
        self.report(vec![snap], &[], &args.analysis, &args.output)
    }

    fn cmd_run(&mut self, args: cli::RunArgs) -> Result<u8> {
        self.check_output(&args.output)?;
        let run_trace = if args.trace {
            let cwd = std::env::current_dir().context("the current directory")?;
            Some(trace::prepare(&args.command, &cwd)?)
        } else {
            None
        };
        let command = run_trace.as_ref().map_or(&args.command, |t| &t.command);
        let mut outcome = goroscope_attach::run_and_snapshot(command, &args.memory.options())?;
        for (pid, why) in &outcome.skipped {
            tracing::info!("pid {pid} exited but was not read: {why}");
        }
        if let Some(t) = &run_trace {
            // The trace's window goes with the exit snapshot of the process that wrote it.
            let path = t.path.display().to_string();
            match goroscope_ingest::read_input(&path, &Default::default()) {
                Ok(mut snaps) if snaps.len() == 1 => {
                    if let Some(alone) = trace::graft(&mut outcome.snapshots, snaps.remove(0)) {
                        outcome.snapshots.push(alone);
                    }
                }
                Ok(_) => warn(&format!("--trace: {path} is not one execution trace")),
                Err(e) => warn(&format!(
                    "--trace: no execution trace to add (the test binary writes it as it ends; did it?): {}",
                    error_text(&anyhow::Error::new(e))
                )),
            }
        }
        let mut opts = args.analysis.options()?;
        // Read as each process exits: whatever user goroutine is still blocked is leaked.
        opts.context = opts.context.or(Some(goroscope_model::Context::Exit));
        // `run`'s --fail-on defaults to suspect (set in cli::command).
        let threshold = args.analysis.fail_on.threshold();
        let mut kept = Vec::new();
        let mut reports = Vec::new();
        let mut failed = false;
        for snap in outcome.snapshots {
            let r = goroscope_analyze::analyze(std::slice::from_ref(&snap), &opts);
            let bad = threshold.is_some_and(|t| goroscope_analyze::fails(&r, t));
            let findings = goroscope_analyze::fails(&r, goroscope_analyze::Verdict::Suspect);
            failed |= bad;
            if bad || findings || args.all {
                reports.extend(r);
                kept.push(snap);
            }
        }
        if !reports.is_empty() {
            let render = args.output.render_options(self.color, self.verbose);
            let protected = protected_paths(&[], &args.analysis);
            output::write(&args.output, &protected, |w| {
                goroscope_render::render(w, args.output.output, &reports, &kept, &render)
            })?;
        }
        if failed {
            return Ok(EXIT_FINDINGS);
        }
        // The program's own status (128+n when it was killed by signal n).
        Ok(outcome.exit_code.clamp(0, 255) as u8)
    }

    fn cmd_diff(&mut self, args: cli::DiffArgs) -> Result<u8> {
        self.check_output(&args.output)?;
        let ingest = args.input.ingest_options();
        if !is_url(&args.before) && !is_url(&args.after) {
            for flag in ["timeout", "debug"] {
                if self.given(flag) {
                    warn(&format!(
                        "--{flag} applies to URL inputs; neither input is one, so it does nothing"
                    ));
                }
            }
        }
        let read = self.traced(&[args.before.clone(), args.after.clone()], &args.input)?;
        let before = read_one(&read[0], &ingest, "diff").context("reading BEFORE")?;
        let after = read_one(&read[1], &ingest, "diff").context("reading AFTER")?;
        let opts = args.analysis.options()?;
        let report = goroscope_analyze::diff(&before, &after, &opts);
        let fail = args
            .analysis
            .fail_on
            .threshold()
            .is_some_and(|t| goroscope_analyze::diff_fails(&report, t));
        let render = args.output.render_options(self.color, self.verbose);
        let inputs = [args.before.clone(), args.after.clone()];
        let protected = protected_paths(&inputs, &args.analysis);
        output::write(&args.output, &protected, |w| {
            goroscope_render::render_diff(w, args.output.output, &report, &[before, after], &render)
        })?;
        Ok(if fail { EXIT_FINDINGS } else { 0 })
    }

    fn cmd_trend(&mut self, args: cli::TrendArgs) -> Result<u8> {
        self.check_output(&args.output)?;
        let ingest = args.input.ingest_options();
        let mut gaps = Vec::new();
        let inputs = self.traced(&args.inputs, &args.input)?;
        let snapshots = if let Some(every) = args.every {
            let [url] = &inputs[..] else {
                anyhow::bail!("--every polls one URL; got {} inputs", args.inputs.len());
            };
            if !is_url(url) {
                anyhow::bail!(
                    "--every polls a /debug/pprof URL; {url} is not one (name snapshot files in time order, without --every)"
                );
            }
            poll(url, &ingest, every.into(), args.samples, &mut gaps)?
        } else {
            if !args.inputs.iter().any(|i| is_url(i)) {
                for flag in ["timeout", "debug"] {
                    if self.given(flag) {
                        warn(&format!(
                            "--{flag} applies to URL inputs; none of the inputs is one, so it does nothing"
                        ));
                    }
                }
            }
            self.read_each(&inputs, &ingest)
        };
        let opts = args.analysis.options()?;
        // One execution trace: the alive count per go statement over its window.
        if let [snap] = &snapshots[..] {
            if snap.lifecycle.is_some() {
                let reports = goroscope_analyze::analyze(&snapshots, &opts);
                if let Some(report) = reports
                    .first()
                    .and_then(|r| goroscope_analyze::window_trend(snap, r))
                {
                    return self.write_trend(&args, report, &snapshots);
                }
            }
        }
        if snapshots.len() < 2 {
            anyhow::bail!(
                "trend needs at least two snapshots in time order, or one execution trace (got {}{})",
                snapshots.len(),
                if self.failed_inputs > 0 {
                    format!("; {} inputs could not be read", self.failed_inputs)
                } else {
                    String::new()
                }
            );
        }
        let mut report = goroscope_analyze::trend(&snapshots, &opts);
        report.warnings.extend(gaps);
        self.write_trend(&args, report, &snapshots)
    }

    fn write_trend(
        &self,
        args: &cli::TrendArgs,
        report: goroscope_analyze::TrendReport,
        snapshots: &[Snapshot],
    ) -> Result<u8> {
        let fail = args
            .analysis
            .fail_on
            .threshold()
            .is_some_and(|t| goroscope_analyze::trend_fails(&report, t));
        let render = args.output.render_options(self.color, self.verbose);
        let protected = protected_paths(&args.inputs, &args.analysis);
        output::write(&args.output, &protected, |w| {
            goroscope_render::render_trend(w, args.output.output, &report, snapshots, &render)
        })?;
        Ok(if fail { EXIT_FINDINGS } else { 0 })
    }
}

/// The paths `--out` must never replace: the inputs, and the files the analysis reads.
fn protected_paths(inputs: &[String], analysis: &cli::AnalysisArgs) -> Vec<String> {
    let mut v: Vec<String> = inputs.to_vec();
    if let Some(b) = &analysis.baseline {
        v.push(b.clone());
    }
    if let Some(c) = &analysis.config {
        v.push(c.display().to_string());
    }
    v
}

fn read_one(input: &str, opts: &goroscope_ingest::Options, what: &str) -> Result<Snapshot> {
    let mut snaps = read_input(input, opts)?;
    match snaps.len() {
        1 => Ok(snaps.pop().unwrap()),
        n => anyhow::bail!(
            "{}: holds {n} dumps; {what} needs one dump per input (split the file, or use `trend`)",
            goroscope_model::redact_url(input)
        ),
    }
}

/// Polls `url` `samples` times, `every` apart. A failed poll is a gap: warned about, written
/// into `gaps` for the report, and polling goes on; only a failed first poll (most likely a
/// wrong URL) ends it.
fn poll(
    url: &str,
    opts: &goroscope_ingest::Options,
    every: std::time::Duration,
    samples: u32,
    gaps: &mut Vec<String>,
) -> Result<Vec<Snapshot>> {
    let start = std::time::Instant::now();
    let mut snapshots = Vec::new();
    for i in 0..samples {
        if i > 0 {
            std::thread::sleep(every);
        }
        let now = std::time::SystemTime::now();
        match read_one(url, opts, "trend --every") {
            Ok(mut s) => {
                if s.taken_at.is_none() {
                    s.taken_at = Some(now);
                }
                tracing::info!(
                    "sample {}/{samples}: {} goroutines",
                    i + 1,
                    s.total_goroutines()
                );
                snapshots.push(s);
            }
            Err(e) if snapshots.is_empty() && i == 0 => {
                return Err(e.context("the first poll failed; nothing to compare against"));
            }
            Err(e) => {
                let gap = format!(
                    "poll {}/{samples} at +{:.0} s failed, a gap in the series: {}",
                    i + 1,
                    start.elapsed().as_secs_f64(),
                    error_text(&e)
                );
                warn(&gap);
                gaps.push(clean(&gap));
            }
        }
    }
    Ok(snapshots)
}

fn cmd_check(args: cli::CheckArgs, color: ColorChoice) -> Result<u8> {
    use goroscope_check::{CheckOptions, ServiceOptions, Workload};
    let target: goroscope_check::Target = args.target.parse()?;
    let workload = match args.duration {
        Some(d) => Workload::Wait(d.into()),
        None => Workload::Command(args.workload.clone()),
    };
    let mut opts = CheckOptions::new(target.clone(), workload);
    if let Some(cmd) = &args.start {
        let mut s = ServiceOptions::new(cmd.clone());
        s.ready = args.ready.clone();
        s.stop_timeout = args.stop_timeout.into();
        opts.service = Some(s);
    }
    opts.ready_timeout = args.ready_timeout.into();
    opts.repeat = args.repeat;
    opts.requests = args.requests;
    opts.settle.timeout = args.settle_timeout.into();
    opts.workload_timeout = args.workload_timeout.map(Into::into);
    opts.output_dir = args.output_dir.clone();
    if let Some(path) = &args.config {
        opts.analysis.config = goroscope_analyze::Config::load(path)
            .with_context(|| format!("reading --config {}", path.display()))?;
    }
    goroscope_check::stop_on_signals();
    let write_junit = |f: &dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()>| -> Result<()> {
        if let Some(path) = &args.junit {
            let mut buf = Vec::new();
            f(&mut buf)?;
            std::fs::write(path, buf)
                .with_context(|| format!("writing --junit {}", path.display()))?;
        }
        Ok(())
    };
    let report = match goroscope_check::check(&opts) {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            write_junit(&|w| goroscope_check::render::junit_error(w, &target.display(), &msg))?;
            return Err(e.into());
        }
    };
    write_junit(&|w| goroscope_check::render::junit(w, &report))?;
    let mut render = goroscope_check::render::RenderOptions::default();
    render.color = color.enabled(std::io::stdout().is_terminal());
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    goroscope_check::render::render(&mut w, args.output, &report, &render)?;
    std::io::Write::flush(&mut w)?;
    Ok(report.exit_code())
}
