//! What a trace hands to the rest of goroscope: the window's lifecycles in the model's own
//! types ([`goroscope_model::lifecycle`], the same the execution-trace reader fills: one model,
//! many doors), attached to the attach snapshot of the window's end so that the normal analysis
//! (groups, the leak rules, the lifecycle rule) and every renderer read it; and the creation
//! stacks as a snapshot of records, for a flame graph.

use crate::state::{SiteKey, State};
use goroscope_model::lifecycle::{
    AlivePoint, BlockedTime, Created, GoroutineLifecycle, LifecycleSource, Lifecycles, Lifetimes,
    SiteKey as ModelKey, SiteLifecycle,
};
use goroscope_model::{Format, Frame, Goid, Interner, ProfileKind, Record, Snapshot, Source};
use std::collections::HashMap;

fn frame_of(
    snap: &mut Snapshot,
    function: &str,
    file: &str,
    line: u32,
) -> goroscope_model::FrameId {
    let function = snap.interner.intern_str(function);
    let file = snap.interner.intern_str(file);
    snap.interner.intern_frame(Frame {
        function,
        file,
        line,
        offset: None,
        inlined: false,
    })
}

/// The window of `state` as the model's lifecycles, names interned in `end` (the snapshot of
/// the goroutines alive at the window's end): every site, and the lifecycle of each goroutine
/// `end` lists that the live set knows. `wait_reasons` names the release's wait reason numbers
/// (blocked time with `--park`).
pub fn lifecycles(state: &State, end: &mut Snapshot, wait_reasons: &[String]) -> Lifecycles {
    let window_ns = state.now_ns.saturating_sub(state.start_ns);
    let sites = state
        .sites
        .iter()
        .map(|s| {
            let key = match &s.key {
                SiteKey::GoStatement {
                    function,
                    file,
                    line,
                } => ModelKey::GoStatement(frame_of(end, function, file, *line)),
                SiteKey::Unknown => match &s.entry {
                    Some(e) => ModelKey::Entry(end.interner.intern_str(e)),
                    None => ModelKey::Unknown,
                },
            };
            let mut out = SiteLifecycle::new(key);
            out.entry = s.entry.as_deref().map(|e| end.interner.intern_str(e));
            out.system = s.system;
            out.born = s.born;
            out.ended = s.ended;
            out.existed_at_start = s.existed_at_start;
            out.alive_at_end = s.live;
            let l = &s.lifetimes;
            out.lifetimes = (l.count > 0).then(|| Lifetimes {
                count: l.count,
                min_ns: l.min_ns,
                p50_ns: l.quantile(0.5),
                p90_ns: l.quantile(0.9),
                p99_ns: l.quantile(0.99),
                max_ns: l.max_ns,
                mean_ns: l.mean_ns(),
            });
            let mut blocked: Vec<BlockedTime> = s
                .blocked_ns
                .iter()
                .map(|(&r, &ns)| {
                    let text = wait_reasons
                        .get(r as usize)
                        .cloned()
                        .unwrap_or_else(|| format!("wait reason {r}"));
                    BlockedTime {
                        reason: end.interner.intern_str(&text),
                        ns,
                    }
                })
                .collect();
            blocked.sort_by_key(|b| std::cmp::Reverse(b.ns));
            out.blocked = blocked;
            out.alive_series = s
                .series
                .iter()
                .filter(|p| p.0 <= window_ns)
                .map(|&(at_ns, alive)| AlivePoint { at_ns, alive })
                .collect();
            out
        })
        .collect();
    let mut goroutines: Vec<GoroutineLifecycle> = end
        .goroutines
        .iter()
        .filter_map(|g| {
            let l = state.live.get(&g.goid.0)?;
            Some(GoroutineLifecycle {
                goid: g.goid,
                site: l.site,
                created: l.born.map(|b| Created {
                    at_ns: b.saturating_sub(state.start_ns).min(window_ns),
                    creator: l.parent.map(Goid),
                }),
                runs: 0,
                blocked_since_ns: None,
                block_reason: Interner::EMPTY,
                exec_ns: 0,
                blocked_ns: 0,
            })
        })
        .collect();
    goroutines.sort_by_key(|g| g.goid);
    goroutines.dedup_by_key(|g| g.goid);
    Lifecycles {
        source: LifecycleSource::Ebpf,
        window_ns,
        wall_end: Some(std::time::SystemTime::now()),
        sites,
        goroutines,
    }
}

/// The creation stacks (or park stacks) as a snapshot of records, one per `(site, stack)`,
/// counted by births: what a flame graph of where goroutines are created draws.
pub fn stacks_snapshot(
    per_stack: &HashMap<(usize, u32), u64>,
    frames: &HashMap<u32, Vec<(String, String, u32)>>,
    input: &str,
) -> Snapshot {
    let mut snap = Snapshot::new(Source {
        input: input.to_string(),
        index: 0,
        line: None,
        format: Format::Attach,
        kind: ProfileKind::Goroutine,
    });
    let mut keys: Vec<(&(usize, u32), &u64)> = per_stack.iter().collect();
    keys.sort();
    for (&(_, id), &count) in keys {
        let Some(fs) = frames.get(&id) else {
            continue;
        };
        let ids: Vec<_> = fs
            .iter()
            .map(|(f, file, line)| frame_of(&mut snap, f, file, *line))
            .collect();
        let stack = snap.interner.intern_stack(&ids);
        snap.records.push(Record {
            count,
            stack,
            labels: Interner::NO_LABELS,
        });
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Kind};
    use crate::state::Symbolize;
    use goroscope_model::Goroutine;

    struct One;
    impl Symbolize for One {
        fn site(&mut self, gopc: u64) -> (SiteKey, bool) {
            (
                SiteKey::GoStatement {
                    function: "main.serve".into(),
                    file: "/src/main.go".into(),
                    line: gopc as u32,
                },
                true,
            )
        }
        fn function(&mut self, _: u64) -> Option<String> {
            Some("main.handle".into())
        }
    }

    fn ev(kind: Kind, ts: u64, goid: u64) -> Event {
        Event {
            kind,
            ts,
            goid,
            parent_goid: 1,
            blocked_ns: 0,
            gopc: 40,
            startpc: 1,
            reason: 0,
            stack_id: Some(3),
        }
    }

    #[test]
    fn the_model_gets_every_site_and_the_listed_goroutines() {
        let mut st = State::new(1_000);
        for g in 10..20 {
            st.apply(&ev(Kind::Create, 1_000 + g, g), &mut One);
        }
        for g in 10..15 {
            st.apply(&ev(Kind::Exit, 2_000 + g, g), &mut One);
        }
        st.tick(3_000);
        let mut end = Snapshot::new(Source {
            input: "pid 1".into(),
            index: 0,
            line: None,
            format: Format::Attach,
            kind: ProfileKind::Goroutine,
        });
        let empty = end.interner.intern_stack(&[]);
        for g in [17, 15, 16, 99] {
            end.goroutines.push(Goroutine::new(Goid(g), empty));
        }
        let lc = lifecycles(&st, &mut end, &[]);
        lc.validate().unwrap();
        assert_eq!(lc.source, LifecycleSource::Ebpf);
        assert_eq!(lc.window_ns, 2_000);
        let s = &lc.sites[0];
        assert_eq!((s.born, s.ended, s.alive_at_end), (10, 5, 5));
        assert_eq!(s.lifetimes.unwrap().count, 5);
        assert_eq!(s.lifetimes.unwrap().min_ns, 1_000);
        let f = s.go_statement().unwrap();
        assert_eq!(end.frame_site(f).line, 40);
        assert_eq!(end.str(s.entry.unwrap()), "main.handle");
        // 99 is not in the live set; the others are, sorted by goid.
        let goids: Vec<u64> = lc.goroutines.iter().map(|g| g.goid.0).collect();
        assert_eq!(goids, vec![15, 16, 17]);
        let c = lc.goroutines[0].created.unwrap();
        assert_eq!((c.at_ns, c.creator), (15, Some(Goid(1))));
        assert_eq!(s.alive_series.last().unwrap().alive, 5);

        let frames = HashMap::from([(
            3,
            vec![
                ("main.serve".to_string(), "/src/main.go".to_string(), 40),
                ("main.main".to_string(), "/src/main.go".to_string(), 9),
            ],
        )]);
        let stacks = stacks_snapshot(&st.create_stacks, &frames, "pid 1");
        assert_eq!(stacks.records.len(), 1);
        assert_eq!(stacks.records[0].count, 10);
    }
}
