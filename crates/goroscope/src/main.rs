//! The goroscope command line: parses flags, builds library options, picks renderers and maps
//! errors to exit codes. Everything a library user would want lives in the library crates.

mod cli;
mod output;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, ColorChoice, Command};
use goroscope_model::Snapshot;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Exit codes (see DESIGN.md): 0 clean, 1 findings at or above `--fail-on`, 2 error.
const EXIT_FINDINGS: u8 = 1;
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet, cli.color);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if output::is_broken_pipe(&err) {
                // A closed pipe (`goroscope … | head`) is not an error.
                return ExitCode::SUCCESS;
            }
            eprintln!("goroscope: error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
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

fn run(cli: Cli) -> Result<u8> {
    let color = cli.color;
    match cli.command {
        Command::Analyze(args) => cmd_analyze(args, color),
        Command::Diff(args) => cmd_diff(args, color),
        Command::Trend(args) => cmd_trend(args, color),
        Command::Attach(args) => cmd_attach(args, color),
        Command::Run(args) => cmd_run(args, color),
    }
}

/// Reads every input; one input may hold several dumps.
fn read_all(inputs: &[String], opts: &goroscope_ingest::Options) -> Result<Vec<Snapshot>> {
    let mut out = Vec::new();
    for input in inputs {
        let snaps = goroscope_ingest::read_input(input, opts)?;
        for s in &snaps {
            for w in &s.warnings {
                tracing::warn!("{}: {}", input, w);
            }
        }
        out.extend(snaps);
    }
    Ok(out)
}

fn cmd_analyze(args: cli::AnalyzeArgs, color: ColorChoice) -> Result<u8> {
    let ingest = args.input.ingest_options();
    let mut inputs = args.inputs.clone();
    if let Some(core) = &args.core {
        let snap = goroscope_attach::read_core(core, args.exe.as_deref(), &args.memory.options())
            .with_context(|| format!("reading core file {}", core.display()))?;
        let inputs = [core.display().to_string()];
        return report(vec![snap], &inputs, &args.analysis, &args.output, color);
    }
    if inputs.is_empty() {
        if std::io::stdin().is_terminal() {
            anyhow::bail!(
                "no input: name a dump file, '-' for stdin, or a /debug/pprof URL (see --help)"
            );
        }
        inputs.push("-".into());
    }
    let mut snapshots = read_all(&inputs, &ingest)?;
    if args.prove {
        for input in &inputs {
            if let Some(url) = cli::leak_profile_url(input) {
                let mut o = ingest.clone();
                o.http_timeout = args.prove_timeout.into();
                match goroscope_ingest::read_input(&url, &o) {
                    Ok(mut s) => snapshots.append(&mut s),
                    Err(e) => {
                        tracing::warn!("--prove: could not fetch the goroutineleak profile: {e}")
                    }
                }
            }
        }
    }
    report(snapshots, &inputs, &args.analysis, &args.output, color)
}

/// Analyses snapshots, writes the reports, and returns the exit code `--fail-on` asks for.
fn report(
    snapshots: Vec<Snapshot>,
    inputs: &[String],
    analysis: &cli::AnalysisArgs,
    out: &cli::OutputArgs,
    color: ColorChoice,
) -> Result<u8> {
    let opts = analysis.options()?;
    let reports = goroscope_analyze::analyze(&snapshots, &opts);
    let fail = analysis
        .fail_on
        .is_some_and(|t| goroscope_analyze::fails(&reports, t));
    let render = out.render_options(color);
    output::write(out, inputs, |w| {
        goroscope_render::render(w, out.output, &reports, &snapshots, &render)
    })?;
    Ok(if fail { EXIT_FINDINGS } else { 0 })
}

fn cmd_attach(args: cli::AttachArgs, color: ColorChoice) -> Result<u8> {
    let snap = goroscope_attach::attach_pid(args.pid, &args.memory.options())
        .with_context(|| format!("attaching to pid {}", args.pid))?;
    let inputs = [format!("pid {}", args.pid)];
    report(vec![snap], &inputs, &args.analysis, &args.output, color)
}

fn cmd_run(args: cli::RunArgs, color: ColorChoice) -> Result<u8> {
    let outcome = goroscope_attach::run_and_snapshot(&args.command, &args.memory.options())?;
    for (pid, why) in &outcome.skipped {
        tracing::info!("pid {pid} exited but was not read: {why}");
    }
    let mut opts = args.analysis.options()?;
    // Read as each process exits: whatever user goroutine is still blocked is leaked.
    opts.context = opts.context.or(Some(goroscope_model::Context::Exit));
    let threshold = args
        .analysis
        .fail_on
        .unwrap_or(goroscope_analyze::Verdict::Suspect);
    let mut kept = Vec::new();
    let mut reports = Vec::new();
    let mut failed = false;
    for snap in outcome.snapshots {
        let r = goroscope_analyze::analyze(std::slice::from_ref(&snap), &opts);
        let bad = goroscope_analyze::fails(&r, threshold);
        failed |= bad;
        if bad || args.all {
            reports.extend(r);
            kept.push(snap);
        }
    }
    if !reports.is_empty() {
        let render = args.output.render_options(color);
        output::write(&args.output, &[], |w| {
            goroscope_render::render(w, args.output.output, &reports, &kept, &render)
        })?;
    }
    if failed {
        return Ok(EXIT_FINDINGS);
    }
    // The program's own status (128+n when it was killed by signal n).
    Ok(outcome.exit_code.clamp(0, 255) as u8)
}

fn read_one(input: &str, opts: &goroscope_ingest::Options) -> Result<Snapshot> {
    let mut snaps = goroscope_ingest::read_input(input, opts)?;
    match snaps.len() {
        1 => Ok(snaps.pop().unwrap()),
        n => anyhow::bail!("{input}: holds {n} dumps; diff needs one dump per input (split the file, or use `trend`)"),
    }
}

fn cmd_diff(args: cli::DiffArgs, color: ColorChoice) -> Result<u8> {
    let ingest = args.input.ingest_options();
    let before = read_one(&args.before, &ingest).with_context(|| "reading BEFORE")?;
    let after = read_one(&args.after, &ingest).with_context(|| "reading AFTER")?;
    let opts = args.analysis.options()?;
    let report = goroscope_analyze::diff(&before, &after, &opts);
    let fail = args
        .analysis
        .fail_on
        .map(|t| goroscope_analyze::diff_fails(&report, t))
        .unwrap_or(false);
    let render = args.output.render_options(color);
    let inputs = [args.before.clone(), args.after.clone()];
    output::write(&args.output, &inputs, |w| {
        goroscope_render::render_diff(w, args.output.output, &report, &[before, after], &render)
    })?;
    Ok(if fail { EXIT_FINDINGS } else { 0 })
}

fn cmd_trend(args: cli::TrendArgs, color: ColorChoice) -> Result<u8> {
    let ingest = args.input.ingest_options();
    let mut snapshots = Vec::new();
    if args.every.is_some() && args.inputs.len() != 1 {
        anyhow::bail!("--every polls one URL; got {} inputs", args.inputs.len());
    }
    if let (Some(every), [url]) = (args.every, &args.inputs[..]) {
        let every: std::time::Duration = every.into();
        for i in 0..args.samples {
            if i > 0 {
                std::thread::sleep(every);
            }
            let mut s = read_one(url, &ingest)?;
            if s.taken_at.is_none() {
                s.taken_at = Some(std::time::SystemTime::now());
            }
            tracing::info!(
                "sample {}/{}: {} goroutines",
                i + 1,
                args.samples,
                s.total_goroutines()
            );
            snapshots.push(s);
        }
    } else {
        snapshots = read_all(&args.inputs, &ingest)?;
    }
    if snapshots.len() < 2 {
        anyhow::bail!(
            "trend needs at least two snapshots in time order (got {})",
            snapshots.len()
        );
    }
    let opts = args.analysis.options()?;
    let report = goroscope_analyze::trend(&snapshots, &opts);
    let fail = args
        .analysis
        .fail_on
        .map(|t| goroscope_analyze::trend_fails(&report, t))
        .unwrap_or(false);
    let render = args.output.render_options(color);
    output::write(&args.output, &args.inputs, |w| {
        goroscope_render::render_trend(w, args.output.output, &report, &snapshots, &render)
    })?;
    Ok(if fail { EXIT_FINDINGS } else { 0 })
}
