//! Snapshots written back out as a pprof goroutine profile (gzipped protobuf, as Go's
//! `runtime/pprof` writes it), for `go tool pprof`, speedscope and every other pprof tool.
//!
//! Several snapshots are merged into one profile (counts of equal stacks and labels summed).
//! Frames inlined into their caller share one location, as in Go's own profiles. Labels are
//! kept; when the snapshot knows a goroutine's state (text dumps), it is added as the label
//! `goroutine.state` so `go tool pprof -tags` can break counts down by state. Locations have no
//! addresses or mappings: the profile carries names, files and lines only, which is all a
//! goroutine dump knows.

use crate::folded::Keep;
use crate::{RenderOptions, Renderer, Subject};
use goroscope_analyze::{DiffReport, Group, GroupIndex, Report, TrendReport};
use goroscope_model::{FrameId, Interner, LabelSetId, Snapshot, StackId, Sym};
use goroscope_pprof::{Function, Label, Line, Location, Profile, Sample, StringTable, ValueType};
use std::collections::HashMap;
use std::io::{self, Write};
use std::time::UNIX_EPOCH;

/// `pprof`: the gzipped goroutine profile of the snapshots (AFTER's, or the last one's, for a
/// diff or a trend).
pub(crate) struct Pprof;

impl Renderer for Pprof {
    fn name(&self) -> &'static str {
        "pprof"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["proto"]
    }
    fn is_binary(&self) -> bool {
        true
    }
    fn supports(&self, _: Subject) -> bool {
        true
    }
    fn about(&self, subject: Subject) -> &'static str {
        match subject {
            Subject::Report => "gzipped profile for `go tool pprof`",
            Subject::Diff => "AFTER's profile for `go tool pprof`",
            Subject::Trend => "the last snapshot's profile for `go tool pprof`",
        }
    }
    fn report(
        &self,
        w: &mut dyn Write,
        reports: &[Report],
        snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        w.write_all(&goroscope_pprof::encode_gz(&profile_of_reports(
            reports, snapshots,
        )))
    }
    fn diff(
        &self,
        w: &mut dyn Write,
        _diff: &DiffReport,
        snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        write(
            w,
            [crate::last_snapshot(snapshots, "pprof", "diff (AFTER)")?],
        )
    }
    fn trend(
        &self,
        w: &mut dyn Write,
        _trend: &TrendReport,
        snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        write(
            w,
            [crate::last_snapshot(
                snapshots,
                "pprof",
                "trend (last snapshot)",
            )?],
        )
    }
}

/// The label key that carries a goroutine's state.
pub const STATE_LABEL: &str = "goroutine.state";

/// A sample's identity: location ids (innermost first) and `(key, value)` label strings.
type SampleKey = (Vec<u64>, Vec<(i64, i64)>);

/// Label keys that carry goroscope's verdicts in profiles written from reports
/// ([`profile_of_reports`]): `go tool pprof -tagfocus verdict=leak` keeps the leaks.
pub const VERDICT_LABEL: &str = "verdict";
/// The rule id that decided (`chan-receive-no-sender`, …).
pub const PATTERN_LABEL: &str = "pattern";
/// What proved the leak (`(leaked) markers`, `goroutineleak profile …`), on proven groups only.
/// goroscope reads a profile back with these goroutines proven.
pub const PROOF_LABEL: &str = "proof";
/// The group id (`Group::id`).
pub const GROUP_LABEL: &str = "group";

/// Builds the goroutine profile of `snapshots`.
pub fn profile<'a>(snapshots: impl IntoIterator<Item = &'a Snapshot>) -> Profile {
    profile_where(snapshots, &|_, _| true)
}

/// The profile of only the entries `keep` accepts: a filtered profile (e.g. only the
/// goroutines of leak groups) that still opens in every pprof tool.
pub fn profile_where<'a>(
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    keep: Keep<'_>,
) -> Profile {
    let snapshots: Vec<(&Snapshot, Option<Verdicts<'_>>)> =
        snapshots.into_iter().map(|s| (s, None)).collect();
    build(&snapshots, keep)
}

/// The profile of the snapshots `reports` were made from, each sample labelled with its
/// group's verdict, pattern, proof and id (see [`VERDICT_LABEL`] and the others), so the
/// analysis survives in every pprof tool and when goroscope reads the profile back.
pub fn profile_of_reports(reports: &[Report], snapshots: &[Snapshot]) -> Profile {
    let pairs: Vec<(&Snapshot, Option<Verdicts<'_>>)> = crate::stack_snapshots(reports, snapshots)
        .into_iter()
        .map(|s| {
            let v = reports
                .iter()
                .find(|r| crate::snapshot_of(r, std::slice::from_ref(s)).is_some())
                .map(|r| Verdicts {
                    index: GroupIndex::new(s, r.grouping),
                    groups: r.groups.iter().map(|g| (g.id.as_str(), g)).collect(),
                    proof: r.proof.source.as_deref(),
                });
            (s, v)
        })
        .collect();
    build(&pairs, &|_, _| true)
}

/// What labels a snapshot's samples with its report's verdicts.
struct Verdicts<'r> {
    index: GroupIndex,
    groups: HashMap<&'r str, &'r Group>,
    proof: Option<&'r str>,
}

impl Verdicts<'_> {
    /// `(key, value)` labels for group `index`.
    fn labels(&self, index: usize) -> Vec<(&'static str, String)> {
        let id = self.index.id(index);
        let Some(g) = self.groups.get(id.as_str()) else {
            return Vec::new();
        };
        let mut out = vec![(VERDICT_LABEL, g.verdict.as_str().to_string())];
        if let Some(p) = &g.pattern {
            out.push((PATTERN_LABEL, p.clone()));
        }
        if g.proven {
            out.push((PROOF_LABEL, self.proof.unwrap_or("runtime").to_string()));
        }
        out.push((GROUP_LABEL, id));
        out
    }
}

/// What aggregates within one snapshot: stack, labels, state, and (when verdicts are written)
/// the group.
type PerKey = (StackId, LabelSetId, Sym, Option<usize>);

fn build(snapshots: &[(&Snapshot, Option<Verdicts<'_>>)], keep: Keep<'_>) -> Profile {
    let mut b = Builder::default();
    let goroutine = b.strings.index("goroutine");
    let count = b.strings.index("count");
    let state_key = b.strings.index(STATE_LABEL);

    // Aggregate per snapshot by ids first: a million goroutines share few stacks.
    let mut samples: HashMap<SampleKey, i64> = HashMap::new();
    let mut order: Vec<SampleKey> = Vec::new();
    for (snap, verdicts) in snapshots {
        let snap = *snap;
        let mut per: HashMap<PerKey, u64> = HashMap::new();
        let mut groups = verdicts.as_ref().map(|v| v.index.entry_groups());
        for e in snap.entries() {
            // Advance the group iterator with every entry, kept or not.
            let group = groups.as_mut().and_then(|g| g.next());
            if !keep(snap, &e) {
                continue;
            }
            let state = e.goroutine.map_or(Interner::EMPTY, |g| g.state);
            *per.entry((e.stack, e.labels, state, group)).or_default() += e.count;
        }
        let mut keys: Vec<_> = per.into_iter().collect();
        keys.sort_by_key(|(k, _)| *k);
        for ((stack, labels, state, group), n) in keys {
            if n == 0 {
                continue;
            }
            let locs = b.locations(snap, stack);
            let mut lab: Vec<(i64, i64)> = snap
                .labels(labels)
                .map(|(k, v)| (b.strings.index(k), b.strings.index(v)))
                .collect();
            if state != Interner::EMPTY {
                lab.push((state_key, b.strings.index(snap.str(state))));
            }
            if let (Some(v), Some(group)) = (verdicts, group) {
                for (k, val) in v.labels(group) {
                    lab.push((b.strings.index(k), b.strings.index(&val)));
                }
            }
            let key = (locs, lab);
            let slot = samples.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                0
            });
            *slot = slot.saturating_add(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    let sample = order
        .into_iter()
        .map(|key| {
            let value = samples[&key];
            let (location_id, labels) = key;
            Sample {
                location_id,
                value: vec![value],
                label: labels
                    .into_iter()
                    .map(|(k, v)| Label {
                        key: k,
                        str: v,
                        ..Label::default()
                    })
                    .collect(),
            }
        })
        .collect();

    let snapshots: Vec<&Snapshot> = snapshots.iter().map(|(s, _)| *s).collect();
    let time_nanos = snapshots
        .iter()
        .filter_map(|s| s.taken_at)
        .filter_map(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .min()
        .unwrap_or(0);
    let inputs: Vec<&str> = snapshots.iter().map(|s| s.source.input.as_str()).collect();
    let comment = if snapshots.len() > 1 {
        vec![b.strings.index(&format!(
            "goroscope: merged from {} snapshots: {}",
            snapshots.len(),
            inputs.join(", ")
        ))]
    } else {
        Vec::new()
    };
    Profile {
        sample_type: vec![ValueType {
            r#type: goroutine,
            unit: count,
        }],
        sample,
        location: b.location,
        function: b.function,
        time_nanos,
        period_type: Some(ValueType {
            r#type: goroutine,
            unit: count,
        }),
        period: 1,
        comment,
        string_table: b.strings.into_table(),
        ..Profile::default()
    }
}

/// Writes the gzipped goroutine profile of `snapshots`.
pub fn write<'a>(
    w: &mut dyn Write,
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
) -> io::Result<()> {
    w.write_all(&goroscope_pprof::encode_gz(&profile(snapshots)))
}

#[derive(Default)]
struct Builder {
    strings: StringTable,
    function: Vec<Function>,
    functions: HashMap<(i64, i64), u64>,
    location: Vec<Location>,
    /// Keyed by the frames' `(function id, line)` run, innermost first.
    locations: HashMap<Vec<(u64, i64)>, u64>,
}

impl Builder {
    fn function(&mut self, snap: &Snapshot, f: FrameId) -> (u64, i64) {
        let site = snap.frame_site(f);
        let name = self.strings.index(site.function);
        let file = self.strings.index(site.file);
        let next = self.function.len() as u64 + 1;
        let id = *self.functions.entry((name, file)).or_insert(next);
        if id == next {
            self.function.push(Function {
                id,
                name,
                system_name: name,
                filename: file,
                start_line: 0,
            });
        }
        (id, i64::from(site.line))
    }

    /// Location ids of a stack, innermost first: each location is a run of frames inlined into
    /// the next, ending at the frame that was not inlined.
    fn locations(&mut self, snap: &Snapshot, stack: StackId) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut run: Vec<(u64, i64)> = Vec::new();
        let frames = snap.stack(stack);
        for (i, &f) in frames.iter().enumerate() {
            run.push(self.function(snap, f));
            let last = i + 1 == frames.len();
            if !snap.frame(f).inlined || last {
                let next = self.location.len() as u64 + 1;
                let id = *self.locations.entry(run.clone()).or_insert(next);
                if id == next {
                    self.location.push(Location {
                        id,
                        line: run
                            .iter()
                            .map(|&(function_id, line)| Line {
                                function_id,
                                line,
                                column: 0,
                            })
                            .collect(),
                        ..Location::default()
                    });
                }
                ids.push(id);
                run.clear();
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goroscope_model::{Format, Frame, Goid, Goroutine, ProfileKind, Record, Source, StateText};

    pub(super) fn snap() -> Snapshot {
        let mut s = Snapshot::new(Source {
            input: "t".into(),
            index: 0,
            line: None,
            format: Format::Debug2,
            kind: ProfileKind::Goroutine,
        });
        let mut fr = |name: &str, line, inlined| {
            let function = s.interner.intern_str(name);
            let file = s.interner.intern_str("/src/main.go");
            s.interner.intern_frame(Frame {
                function,
                file,
                line,
                offset: None,
                inlined,
            })
        };
        let a = fr("main.helper", 5, true);
        let b = fr("main.worker", 10, false);
        let c = fr("main.main.func1", 20, false);
        let st = s.interner.intern_stack(&[a, b, c]);
        for i in 0..3 {
            let mut g = Goroutine::new(Goid(i), st);
            g.set_state(&StateText::parse("chan receive"), &mut s.interner);
            s.goroutines.push(g);
        }
        s.records.push(Record {
            count: 2,
            stack: st,
            labels: Interner::NO_LABELS,
        });
        s
    }

    #[test]
    fn inlined_frames_share_a_location_and_counts_merge() {
        let s = snap();
        let p = profile(&[s.clone(), s]);
        assert_eq!(p.location.len(), 2);
        assert_eq!(p.location[0].line.len(), 2, "helper inlined into worker");
        let names: Vec<String> = p.location[0]
            .line
            .iter()
            .map(|l| {
                let f = p.function.iter().find(|f| f.id == l.function_id).unwrap();
                p.string(f.name).unwrap().into_owned()
            })
            .collect();
        assert_eq!(names, ["main.helper", "main.worker"]);
        let total: i64 = p.sample.iter().map(|s| s.value[0]).sum();
        assert_eq!(total, 10);
        assert_eq!(
            p.sample.len(),
            2,
            "one sample with the state label, one without"
        );
        let back = goroscope_pprof::decode(&goroscope_pprof::encode_gz(&p)).unwrap();
        assert_eq!(back, p);
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn keep_filters_entries() {
        let s = tests_snap();
        let p = profile_where([&s], &|_, e| e.goroutine.is_some());
        let total: i64 = p.sample.iter().map(|s| s.value[0]).sum();
        assert_eq!(total, 3, "only the goroutines, not the record of 2");
        let none = profile_where([&s], &|_, _| false);
        assert!(none.sample.is_empty());
        assert_eq!(
            none.sample_type.len(),
            1,
            "an empty profile is still a goroutine profile"
        );
    }

    fn tests_snap() -> Snapshot {
        super::tests::snap()
    }
}
