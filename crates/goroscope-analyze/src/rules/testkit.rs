//! Builds snapshots through the model API for rule tests.

use crate::{analyze, Group, Options, Report, Verdict};
use goroscope_model::{
    Context, Format, Frame, Goid, Goroutine, Interner, NewFrameArgs, ProfileKind, Record, Snapshot,
    Source, StateText,
};

/// A goroutine (or, with an empty state, a stateless record) to put in a test snapshot.
#[derive(Debug, Clone)]
pub struct G {
    pub state: &'static str,
    pub frames: Vec<(&'static str, &'static str, u32)>,
    pub created_by: Option<(&'static str, &'static str, u32)>,
    pub creator: Option<u64>,
    pub times: u64,
    pub labels: Vec<(&'static str, &'static str)>,
    /// Argument words per frame index (innermost 0), as a traceback prints them, with the mask
    /// of words printed with `?`.
    pub args: Vec<(usize, Vec<u64>, u8)>,
    /// The goroutine id (default: the next free one from 100).
    pub goid: Option<u64>,
    pub minutes: Option<u32>,
}

impl G {
    pub fn new(state: &'static str, frames: &[(&'static str, &'static str, u32)]) -> G {
        G {
            state,
            frames: frames.to_vec(),
            created_by: None,
            creator: None,
            times: 1,
            labels: Vec::new(),
            args: Vec::new(),
            goid: None,
            minutes: None,
        }
    }
    /// Argument words printed after frame `frame` (innermost 0).
    pub fn args(mut self, frame: usize, words: &[u64]) -> G {
        self.args.push((frame, words.to_vec(), 0));
        self
    }
    /// Argument words of which those in `uncertain` (bit i: word i) were printed with `?`.
    pub fn args_q(mut self, frame: usize, words: &[u64], uncertain: u8) -> G {
        self.args.push((frame, words.to_vec(), uncertain));
        self
    }
    pub fn goid(mut self, goid: u64) -> G {
        self.goid = Some(goid);
        self
    }
    pub fn minutes(mut self, m: u32) -> G {
        self.minutes = Some(m);
        self
    }
    pub fn by(mut self, c: (&'static str, &'static str, u32)) -> G {
        self.created_by = Some(c);
        self
    }
    pub fn creator(mut self, goid: u64) -> G {
        self.creator = Some(goid);
        self
    }
    pub fn times(mut self, n: u64) -> G {
        self.times = n;
        self
    }
    pub fn label(mut self, k: &'static str, v: &'static str) -> G {
        self.labels.push((k, v));
        self
    }
}

fn frame(s: &mut Snapshot, (f, file, line): (&str, &str, u32)) -> goroscope_model::FrameId {
    let function = s.interner.intern_str(f);
    let file = s.interner.intern_str(file);
    s.interner.intern_frame(Frame {
        function,
        file,
        line,
        offset: None,
        inlined: false,
    })
}

/// A snapshot holding `gs` (goids from 100 up).
pub fn snapshot(gs: &[G], kind: ProfileKind) -> Snapshot {
    let mut s = Snapshot::new(Source {
        input: "test".into(),
        index: 0,
        line: None,
        format: Format::Debug2,
        kind,
    });
    let mut goid = 100;
    for g in gs {
        let frames: Vec<_> = g.frames.iter().map(|&f| frame(&mut s, f)).collect();
        let stack = s.interner.intern_stack(&frames);
        let labels = if g.labels.is_empty() {
            Interner::NO_LABELS
        } else {
            let pairs = g
                .labels
                .iter()
                .map(|(k, v)| (s.interner.intern_str(k), s.interner.intern_str(v)))
                .collect();
            s.interner.intern_labels(pairs)
        };
        if g.state.is_empty() {
            s.format_records();
            s.records.push(Record {
                count: g.times,
                stack,
                labels,
            });
            continue;
        }
        let created_by = g.created_by.map(|c| frame(&mut s, c));
        for _ in 0..g.times {
            let id = g.goid.unwrap_or_else(|| {
                goid += 1;
                goid - 1
            });
            let mut gr = Goroutine::new(Goid(id), stack);
            let st = StateText::parse(g.state);
            gr.set_state(&st, &mut s.interner);
            if g.minutes.is_some() {
                gr.wait_minutes = g.minutes;
            }
            if !g.args.is_empty() {
                gr.args = s.args.push(g.args.iter().map(|(f, w, q)| NewFrameArgs {
                    frame: *f,
                    words: w,
                    uncertain: *q,
                    more: false,
                }));
            }
            gr.created_by = created_by;
            gr.creator_goid = g.creator.map(Goid);
            gr.labels = labels;
            s.goroutines.push(gr);
        }
    }
    s
}

trait Records {
    fn format_records(&mut self);
}

impl Records for Snapshot {
    fn format_records(&mut self) {
        self.source.format = Format::Debug1;
    }
}

/// The report of one snapshot holding `gs`.
pub fn report(gs: &[G]) -> Report {
    let mut r = analyze(&[snapshot(gs, ProfileKind::Goroutine)], &Options::default());
    r.pop().expect("one report")
}

/// The only group of a snapshot holding `gs` (judged in the context the analysis infers:
/// `live` for these snapshots, which carry no crash header, test frame or exit).
pub fn one(gs: &[G]) -> Group {
    let r = report(gs);
    assert_eq!(r.groups.len(), 1, "expected one group: {:#?}", r.groups);
    r.groups.into_iter().next().unwrap()
}

/// The report of a snapshot holding `gs`, judged in context `ctx`.
pub fn report_in(ctx: Context, gs: &[G]) -> Report {
    let opts = Options {
        context: Some(ctx),
        ..Options::default()
    };
    analyze(&[snapshot(gs, ProfileKind::Goroutine)], &opts)
        .pop()
        .expect("one report")
}

/// The report of an attach snapshot holding `gs` with what memory read (`mem`), judged in
/// context `ctx`.
pub fn report_mem(ctx: Context, gs: &[G], mem: goroscope_model::MemoryFacts) -> Report {
    let opts = Options {
        context: Some(ctx),
        ..Options::default()
    };
    let mut s = snapshot(gs, ProfileKind::Goroutine);
    s.source.format = Format::Attach;
    let mut mem = mem;
    mem.sort();
    s.memory = Some(mem);
    analyze(&[s], &opts).pop().expect("one report")
}

/// The only group of a snapshot holding `gs`, judged in context `ctx`.
pub fn one_in(ctx: Context, gs: &[G]) -> Group {
    let r = report_in(ctx, gs);
    assert_eq!(r.groups.len(), 1, "expected one group: {:#?}", r.groups);
    r.groups.into_iter().next().unwrap()
}

/// The verdict of a pattern one snapshot finds but cannot decide alone: in a live service it
/// needs more samples; at exit (goleak's rule) it is leaked. Returns the pattern.
#[track_caller]
pub fn undecided_live_leaked_at_exit(gs: &[G]) -> Option<String> {
    let live = one_in(Context::Live, gs);
    let exit = one_in(Context::Exit, gs);
    assert_eq!(live.verdict, Verdict::NeedMoreSamples, "live: {live:#?}");
    assert!(
        live.next_step.is_some(),
        "live: a next step is named: {live:#?}"
    );
    assert_eq!(exit.verdict, Verdict::Leak, "exit: {exit:#?}");
    assert_eq!(live.pattern, exit.pattern);
    live.pattern
}
