//! `svg`: the flame graph of the snapshots (a differential one for a diff), drawn by `inferno`
//! from the folded stacks of [`crate::folded`].

use crate::folded::{self, FlameOptions};
use crate::{text, RenderOptions, Renderer, Subject};
use goroscope_analyze::{DiffReport, Report, TrendReport};
use goroscope_model::Snapshot;
use std::io::{self, Write};

pub(crate) struct Svg;

impl Renderer for Svg {
    fn name(&self) -> &'static str {
        "svg"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["flamegraph"]
    }
    fn supports(&self, _: Subject) -> bool {
        true
    }
    fn about(&self, subject: Subject) -> &'static str {
        match subject {
            Subject::Report => "flame graph",
            Subject::Diff => "differential flame graph",
            Subject::Trend => "flame graph of the last snapshot",
        }
    }
    fn report(
        &self,
        w: &mut dyn Write,
        reports: &[Report],
        snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        let title = match reports {
            [r] => format!("Goroutines: {}", text::source_name(&r.source)),
            _ => "Goroutines".to_string(),
        };
        folded::write_flamegraph(
            w,
            crate::stack_snapshots(reports, snapshots),
            &FlameOptions {
                title,
                fold: opts.fold,
                ..FlameOptions::default()
            },
        )
    }
    fn diff(
        &self,
        w: &mut dyn Write,
        _diff: &DiffReport,
        snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        if let [before, after] = snapshots {
            return folded::write_flamegraph_diff(
                w,
                before,
                after,
                &FlameOptions {
                    title: format!(
                        "Goroutines: {} → {}",
                        before.source.input, after.source.input
                    ),
                    subtitle: Some("red: more goroutines in AFTER, blue: fewer".to_string()),
                    fold: opts.fold,
                    ..FlameOptions::default()
                },
            );
        }
        last(w, snapshots, "diff (AFTER)", opts)
    }
    fn trend(
        &self,
        w: &mut dyn Write,
        _trend: &TrendReport,
        snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        last(w, snapshots, "trend (last snapshot)", opts)
    }
}

fn last(
    w: &mut dyn Write,
    snapshots: &[Snapshot],
    what: &str,
    opts: &RenderOptions,
) -> io::Result<()> {
    let last = crate::last_snapshot(snapshots, "svg", what)?;
    folded::write_flamegraph(
        w,
        std::slice::from_ref(last),
        &FlameOptions {
            title: format!("Goroutines: {}", last.source.input),
            fold: opts.fold,
            ..FlameOptions::default()
        },
    )
}
