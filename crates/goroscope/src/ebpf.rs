//! `goroscope trace PID`: follow goroutine births and deaths live with eBPF
//! (`goroscope-trace`), show them each second, and report through the normal analysis at the
//! end: the attach snapshot of the goroutines alive then, with the window's lifecycles (per
//! creation site: born, ended, lifetimes, the alive series; the lifecycle rule judges them).

use crate::cli::{AnalysisArgs, HumanDuration, OutputArgs};
use crate::{warn, App};
use anyhow::{Context, Result};
use clap::Args;
use goroscope_trace::{TraceOptions, Tracer};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Process id of the Go program.
    pub pid: u32,
    /// Trace this long, then report (default: until Ctrl-C, SIGTERM or the program's exit).
    #[arg(long = "for", value_name = "DURATION", value_parser = crate::cli::parse_duration)]
    pub duration: Option<HumanDuration>,
    /// Also follow parks (runtime.gopark) and the next run of each parked goroutine: blocked
    /// time per site and wait reason. One probe hit per park and per schedule: costs more.
    #[arg(long)]
    pub park: bool,
    /// With --park: follow one goroutine in N (by goid), scaling blocked time back up.
    #[arg(long, default_value_t = 10, value_name = "N", requires = "park")]
    pub park_sample: u32,
    /// Take each creation's user stack (and sampled parks' with --park), for --flame.
    #[arg(long)]
    pub stacks: bool,
    /// With --stacks: write a flame graph (SVG) of the creation stacks to FILE.
    #[arg(long, value_name = "FILE", requires = "stacks")]
    pub flame: Option<PathBuf>,
    /// Write every event as a JSON line to FILE (kind, ts_ns, goid, parent_goid, site, entry…).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// No live view on stderr (it is a table redrawn each second on a terminal, one line a
    /// second otherwise).
    #[arg(long)]
    pub no_live: bool,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl App {
    pub(crate) fn cmd_trace(&mut self, args: TraceArgs) -> Result<u8> {
        self.check_output(&args.output)?;
        for p in [&args.events, &args.flame].into_iter().flatten() {
            if args.output.out.as_deref() == Some(p.as_path()) {
                anyhow::bail!(
                    "{} is both the report's --out and a trace file",
                    p.display()
                );
            }
        }
        let stop = goroscope_trace::signals::stop_on_signals();
        let opts = TraceOptions {
            park: args.park,
            park_sample: args.park_sample,
            stacks: args.stacks,
            events: args.events.clone(),
            end_snapshot: true,
            ..Default::default()
        };
        let tracer = Tracer::start(args.pid, &opts)
            .with_context(|| format!("tracing process {}", args.pid))?;
        let plan = tracer.plan();
        tracing::info!(
            "tracing pid {} ({}): {}",
            args.pid,
            plan.go_version,
            plan.probes
                .iter()
                .map(|p| format!(
                    "{} at {}+{:#x} ({})",
                    p.role.as_str(),
                    p.function,
                    p.offset,
                    p.instruction
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let title = format!("goroscope trace pid {} ({})", args.pid, plan.go_version);
        let tty = std::io::stderr().is_terminal();
        // -q: only errors on stderr.
        let live =
            !args.no_live && tracing::level_filters::LevelFilter::current() >= tracing::Level::WARN;
        let started = Instant::now();
        let deadline = args.duration.map(|d| started + Duration::from(d));
        let mut next = started + Duration::from_secs(1);
        loop {
            if stop.load(std::sync::atomic::Ordering::SeqCst)
                || tracer.finished()
                || deadline.is_some_and(|d| Instant::now() >= d)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            if Instant::now() < next {
                continue;
            }
            next += Duration::from_secs(1);
            if live {
                let st = tracer.state();
                let width = crate::cli::terminal_width().unwrap_or(100);
                let text = goroscope_trace::view::render(&st, &title, tty, width, 15);
                let mut err = std::io::stderr().lock();
                if tty {
                    // Home and clear, then the table.
                    let _ = write!(err, "\x1b[H\x1b[2J{text}");
                } else {
                    let _ = writeln!(err, "{text}");
                }
                let _ = err.flush();
            }
        }
        let outcome = tracer.stop().context("stopping the trace")?;
        let st = &outcome.state;
        if st.partial() {
            warn(&format!(
                "{} events were lost ({} with the ring buffer full, {} unreadable): the counts are partial",
                st.counters.lost(),
                st.counters.dropped,
                st.counters.read_errors
            ));
        }
        if outcome.target_exited {
            warn(&format!(
                "process {} exited while traced: no report of the goroutines alive at the end",
                args.pid
            ));
        }
        if let Some(path) = &args.flame {
            let snap = goroscope_trace::report::stacks_snapshot(
                &st.create_stacks,
                &outcome.stack_frames,
                &format!("pid {}", args.pid),
            );
            let opts = goroscope_render::folded::FlameOptions {
                title: format!("Goroutine creation stacks, pid {}", args.pid),
                ..Default::default()
            };
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            goroscope_render::folded::write_flamegraph(&mut f, [&snap], &opts)
                .and_then(|()| f.flush())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let Some(end) = outcome.end else {
            return Ok(crate::EXIT_ERROR);
        };
        self.report(vec![end], &[], &args.analysis, &args.output)
    }
}
