//! Goroutine lifecycles over a window of time: what a goroutine dump cannot show.
//!
//! A dump is one moment; a **lifecycle** source watches goroutines being born and ending over a
//! window: an execution trace (`runtime/trace`, `/debug/pprof/trace?seconds=N`, `go test
//! -trace`, the flight recorder) read by `goroscope-exectrace`, or uprobes on the runtime read by
//! the eBPF tracer. Both fill these plain types and attach them to the [`Snapshot`] of the
//! goroutines alive at the end of the window ([`Snapshot::lifecycle`]); the analysis and the
//! reports use only these, never a reader crate.
//!
//! - per creation site ([`SiteLifecycle`]): born, ended, alive at the start and at the end,
//!   lifetime percentiles of the goroutines that ended, blocked time by reason, and the number
//!   alive over the window;
//! - per goroutine alive at the end ([`GoroutineLifecycle`]): when and by whom it was created,
//!   how often it ran, and since when it has been blocked — what evidence text needs.
//!
//! Times are nanoseconds since the window's start. Frames and strings ([`FrameId`], [`Sym`]) are
//! those of the snapshot's interner. A source that cannot measure something leaves it empty (an
//! eBPF tracer that sees births and deaths but not blocking leaves [`SiteLifecycle::blocked`]
//! empty and [`GoroutineLifecycle::blocked_since_ns`] `None`).
//!
//! [`Snapshot`]: crate::Snapshot
//! [`Snapshot::lifecycle`]: crate::Snapshot::lifecycle

use crate::{Frame, FrameId, Goid, Interner, Sym};
use std::fmt;
use std::time::{Duration, SystemTime};

/// What measured the lifecycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleSource {
    /// A Go execution trace.
    ExecTrace,
    /// eBPF uprobes on the Go runtime.
    Ebpf,
}

impl LifecycleSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleSource::ExecTrace => "exectrace",
            LifecycleSource::Ebpf => "ebpf",
        }
    }
}

impl fmt::Display for LifecycleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What identifies a creation site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteKey {
    /// The `go` statement: the innermost frame of the creator's stack (a dump's `created by`).
    GoStatement(FrameId),
    /// Goroutines whose creation was not seen (they existed when the window began): their
    /// entry function only.
    Entry(Sym),
    /// Creation not seen and entry function unknown.
    Unknown,
}

/// Lifetimes (creation to end) of a site's goroutines born and ended in the window. Percentiles
/// may be approximate (the execution-trace reader keeps them within 1/64 of the true value);
/// `count`, `min`, `max` and `mean` are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub count: u64,
    pub min_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    pub mean_ns: u64,
}

/// Time a site's goroutines spent blocked for one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedTime {
    /// The source's words for the reason (`chan receive`, `sync`, `network`, …).
    pub reason: Sym,
    pub ns: u64,
}

/// A point of a site's alive series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlivePoint {
    /// Nanoseconds since the window's start.
    pub at_ns: u64,
    /// Goroutines of the site alive at that time.
    pub alive: u64,
}

/// One creation site over the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteLifecycle {
    pub key: SiteKey,
    /// The entry function of its goroutines (of the first one seen).
    pub entry: Option<Sym>,
    /// Its goroutines belong to the runtime (entry `runtime.*` other than `runtime.main`): a
    /// dump leaves them out, and so do reports.
    pub system: bool,
    /// Created in the window.
    pub born: u64,
    /// Ended in the window (whenever born).
    pub ended: u64,
    /// Alive when the window began.
    pub existed_at_start: u64,
    /// Alive at the end of the window (whenever born).
    pub alive_at_end: u64,
    /// Of the goroutines born and ended in the window; `None` when none did.
    pub lifetimes: Option<Lifetimes>,
    /// Blocked time by reason, summed over its goroutines, largest first.
    pub blocked: Vec<BlockedTime>,
    /// Alive over the window, in time order; the last point is at the window's end.
    pub alive_series: Vec<AlivePoint>,
}

impl SiteLifecycle {
    /// A site with nothing counted yet.
    pub fn new(key: SiteKey) -> Self {
        SiteLifecycle {
            key,
            entry: None,
            system: false,
            born: 0,
            ended: 0,
            existed_at_start: 0,
            alive_at_end: 0,
            lifetimes: None,
            blocked: Vec::new(),
            alive_series: Vec::new(),
        }
    }

    /// The `go` statement, when the site is one.
    pub fn go_statement(&self) -> Option<FrameId> {
        match self.key {
            SiteKey::GoStatement(f) => Some(f),
            _ => None,
        }
    }
}

/// How a goroutine alive at the end came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    /// Nanoseconds since the window's start.
    pub at_ns: u64,
    /// The goroutine that ran the `go` statement (`None`: the runtime, outside any goroutine).
    pub creator: Option<Goid>,
}

/// What the window shows of one goroutine alive at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoroutineLifecycle {
    pub goid: Goid,
    /// Index into [`Lifecycles::sites`].
    pub site: usize,
    /// `None`: it existed when the window began.
    pub created: Option<Created>,
    /// Times it started running in the window.
    pub runs: u32,
    /// When it blocked for the last time, if it is blocked at the end: nanoseconds since the
    /// window's start (0 with `created: None`: blocked since before the window).
    pub blocked_since_ns: Option<u64>,
    /// The source's words for why it is blocked at the end (empty when unknown or not blocked).
    pub block_reason: Sym,
    /// Time it ran in the window.
    pub exec_ns: u64,
    /// Time it was blocked in the window, all reasons.
    pub blocked_ns: u64,
}

/// Lifecycles over one window, attached to the snapshot of its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycles {
    pub source: LifecycleSource,
    /// The window's length (first to last event).
    pub window_ns: u64,
    /// The wall clock at the window's end, when the source records it.
    pub wall_end: Option<SystemTime>,
    /// Every creation site seen, system ones included.
    pub sites: Vec<SiteLifecycle>,
    /// The goroutines alive at the end that the snapshot lists, by goid.
    pub goroutines: Vec<GoroutineLifecycle>,
}

impl Lifecycles {
    /// The window's length.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window_ns)
    }

    /// The lifecycle of a goroutine alive at the end.
    pub fn goroutine(&self, goid: Goid) -> Option<&GoroutineLifecycle> {
        self.goroutines
            .binary_search_by_key(&goid, |g| g.goid)
            .ok()
            .map(|i| &self.goroutines[i])
    }

    /// The goroutines alive at the end of one site.
    pub fn alive_of(&self, site: usize) -> impl Iterator<Item = &GoroutineLifecycle> + '_ {
        self.goroutines.iter().filter(move |g| g.site == site)
    }

    /// The same window with its frames and strings interned into `to` (they were `from`'s):
    /// to attach it to another snapshot of the same process, e.g. one read from its memory as
    /// it exited, keeping only the goroutines `keep` accepts.
    pub fn reinterned(
        &self,
        from: &Interner,
        to: &mut Interner,
        keep: impl Fn(Goid) -> bool,
    ) -> Lifecycles {
        let sym = |s: Sym, to: &mut Interner| to.intern_str(from.str(s));
        let frame = |f: FrameId, to: &mut Interner| {
            let fr = *from.frame(f);
            let function = to.intern_str(from.str(fr.function));
            let file = to.intern_str(from.str(fr.file));
            to.intern_frame(Frame {
                function,
                file,
                ..fr
            })
        };
        let sites = self
            .sites
            .iter()
            .map(|s| SiteLifecycle {
                key: match s.key {
                    SiteKey::GoStatement(f) => SiteKey::GoStatement(frame(f, to)),
                    SiteKey::Entry(e) => SiteKey::Entry(sym(e, to)),
                    SiteKey::Unknown => SiteKey::Unknown,
                },
                entry: s.entry.map(|e| sym(e, to)),
                blocked: s
                    .blocked
                    .iter()
                    .map(|b| BlockedTime {
                        reason: sym(b.reason, to),
                        ns: b.ns,
                    })
                    .collect(),
                ..s.clone()
            })
            .collect();
        let goroutines = self
            .goroutines
            .iter()
            .filter(|g| keep(g.goid))
            .map(|g| GoroutineLifecycle {
                block_reason: sym(g.block_reason, to),
                ..g.clone()
            })
            .collect();
        Lifecycles {
            sites,
            goroutines,
            ..self.clone()
        }
    }

    /// Checks what a reader must guarantee: goroutines sorted by goid and pointing at existing
    /// sites, series in time order and inside the window. A message names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(w) = self.goroutines.windows(2).find(|w| w[0].goid >= w[1].goid) {
            return Err(format!(
                "goroutines not sorted by goid ({} before {})",
                w[0].goid, w[1].goid
            ));
        }
        if let Some(g) = self.goroutines.iter().find(|g| g.site >= self.sites.len()) {
            return Err(format!(
                "goroutine {} points at site {} of {}",
                g.goid,
                g.site,
                self.sites.len()
            ));
        }
        for (i, s) in self.sites.iter().enumerate() {
            if s.alive_series.windows(2).any(|w| w[0].at_ns > w[1].at_ns) {
                return Err(format!("site {i}: alive series out of time order"));
            }
            if s.alive_series.iter().any(|p| p.at_ns > self.window_ns) {
                return Err(format!("site {i}: alive series beyond the window"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(goids: &[u64], sites: usize) -> Lifecycles {
        Lifecycles {
            source: LifecycleSource::ExecTrace,
            window_ns: 1_000,
            wall_end: None,
            sites: (0..sites)
                .map(|_| SiteLifecycle::new(SiteKey::Unknown))
                .collect(),
            goroutines: goids
                .iter()
                .map(|&g| GoroutineLifecycle {
                    goid: Goid(g),
                    site: 0,
                    created: None,
                    runs: 0,
                    blocked_since_ns: None,
                    block_reason: Interner::EMPTY,
                    exec_ns: 0,
                    blocked_ns: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn goroutines_are_found_by_goid_and_checked() {
        let l = lc(&[3, 7, 40], 1);
        assert!(l.validate().is_ok());
        assert_eq!(l.goroutine(Goid(7)).map(|g| g.goid), Some(Goid(7)));
        assert!(l.goroutine(Goid(8)).is_none());
        assert_eq!(l.alive_of(0).count(), 3);
        assert_eq!(l.window(), Duration::from_micros(1));

        let e = lc(&[7, 3], 1).validate().unwrap_err();
        assert!(e.contains("not sorted"), "{e}");
        let e = lc(&[3], 0).validate().unwrap_err();
        assert!(e.contains("points at site 0 of 0"), "{e}");
        let mut l = lc(&[], 1);
        l.sites[0].alive_series = vec![
            AlivePoint { at_ns: 5, alive: 1 },
            AlivePoint { at_ns: 2, alive: 1 },
        ];
        assert!(l.validate().unwrap_err().contains("out of time order"));
        l.sites[0].alive_series = vec![AlivePoint {
            at_ns: 2_000,
            alive: 1,
        }];
        assert!(l.validate().unwrap_err().contains("beyond the window"));
    }

    #[test]
    fn a_window_moves_to_another_interner() {
        let mut from = Interner::new();
        let f = from.intern_str("main.spawn");
        let file = from.intern_str("/src/main.go");
        let go = from.intern_frame(Frame {
            function: f,
            file,
            line: 42,
            offset: None,
            inlined: false,
        });
        let reason = from.intern_str("chan send");
        let mut l = lc(&[3, 7], 1);
        l.sites[0].key = SiteKey::GoStatement(go);
        l.sites[0].entry = Some(f);
        l.sites[0].blocked = vec![BlockedTime { reason, ns: 9 }];
        l.goroutines[1].block_reason = reason;
        let mut to = Interner::new();
        to.intern_str("something else first");
        let m = l.reinterned(&from, &mut to, |g| g != Goid(3));
        let SiteKey::GoStatement(g) = m.sites[0].key else {
            panic!("{:?}", m.sites[0].key)
        };
        assert_eq!(to.str(to.frame(g).function), "main.spawn");
        assert_eq!(to.str(to.frame(g).file), "/src/main.go");
        assert_eq!(to.frame(g).line, 42);
        assert_eq!(to.str(m.sites[0].entry.unwrap()), "main.spawn");
        assert_eq!(to.str(m.sites[0].blocked[0].reason), "chan send");
        assert_eq!(m.goroutines.len(), 1);
        assert_eq!(to.str(m.goroutines[0].block_reason), "chan send");
        assert!(m.validate().is_ok());
    }

    #[test]
    fn names() {
        assert_eq!(LifecycleSource::ExecTrace.to_string(), "exectrace");
        assert_eq!(LifecycleSource::Ebpf.as_str(), "ebpf");
        let f = SiteLifecycle::new(SiteKey::Unknown);
        assert_eq!(f.go_statement(), None);
    }
}
