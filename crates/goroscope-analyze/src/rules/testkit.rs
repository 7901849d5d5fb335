//! Builds snapshots through the model API for rule tests.

use crate::{analyze, Group, Options, Report};
use goroscope_model::{
    Format, Frame, Goid, Goroutine, Interner, ProfileKind, Record, Snapshot, Source, StateText,
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
        }
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
            let mut gr = Goroutine::new(Goid(goid), stack);
            goid += 1;
            let st = StateText::parse(g.state);
            gr.set_state(&st, &mut s.interner);
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

/// The only group of a snapshot holding `gs`.
pub fn one(gs: &[G]) -> Group {
    let r = report(gs);
    assert_eq!(r.groups.len(), 1, "expected one group: {:#?}", r.groups);
    r.groups.into_iter().next().unwrap()
}
