//! Turns what [`crate::relate`] found into what reports show — one [`Relation`] per deadlock,
//! lock chain or stuck program, with its goroutines, objects and a one-line summary — and into
//! the per-group facts the verdicts use ([`GroupRelations`]).

use crate::group::Grouped;
use crate::judge::GroupRelations;
use crate::relate::{ChainEnd, Relations};
use crate::report::{Location, Relation, RelationGoroutine, WaitObject};
use goroscope_model::{Goroutine, Snapshot};

/// Goroutines listed per relation (counts stay exact).
const MAX_LISTED: usize = 50;
/// Relations of each kind reported.
const MAX_RELATIONS: usize = 20;

pub(crate) struct Described {
    entries: Vec<Relation>,
    per_group: Vec<GroupRelations>,
}

impl Described {
    pub(crate) fn for_group(&self, gi: usize) -> GroupRelations {
        self.per_group.get(gi).cloned().unwrap_or_default()
    }

    pub(crate) fn into_report(self) -> Vec<Relation> {
        self.entries
    }
}

fn loc(snap: &Snapshot, f: goroscope_model::FrameId) -> Location {
    let s = snap.frame_site(f);
    Location {
        function: s.function.to_string(),
        file: s.file.to_string(),
        line: s.line,
    }
}

fn state(snap: &Snapshot, grouped: &Grouped, i: u32) -> String {
    let g = &snap.goroutines[i as usize];
    match g.wait_reason {
        Some(goroscope_model::WaitReason::Other) | None
            if g.state != goroscope_model::Interner::EMPTY =>
        {
            snap.str(g.state).to_string()
        }
        Some(r) => r.as_str().to_string(),
        None => {
            let a = &grouped.groups[grouped.member[i as usize] as usize].1;
            a.reason
                .map_or(g.status.as_str(), |r| r.as_str())
                .to_string()
        }
    }
}

/// Where a goroutine blocks (its group's blocking frame, in its own stack when it has one).
fn at(snap: &Snapshot, grouped: &Grouped, g: &Goroutine, i: u32) -> Option<Location> {
    let (_, a) = &grouped.groups[grouped.member[i as usize] as usize];
    let f = &grouped.facts[&a.stack];
    let frames = snap.stack(g.stack);
    let idx = f.blocking.filter(|&b| b < frames.len()).unwrap_or(0);
    frames.get(idx).map(|&fr| loc(snap, fr))
}

fn object_text(rel: &Relations, o: usize) -> String {
    let obj = &rel.objects[o];
    match &obj.owner_type {
        Some(t) => format!("{} {:#x} (in a {t})", obj.kind.as_str(), obj.addr),
        None => format!("{} {:#x}", obj.kind.as_str(), obj.addr),
    }
}

fn object(rel: &Relations, o: usize) -> WaitObject {
    let obj = &rel.objects[o];
    WaitObject {
        kind: obj.kind.as_str().to_string(),
        addr: format!("{:#x}", obj.addr),
        waiters: obj.waiters.len() as u64,
        owner_type: obj.owner_type.clone(),
    }
}

struct Ctx<'a> {
    snap: &'a Snapshot,
    grouped: &'a Grouped,
    rel: &'a Relations,
}

impl Ctx<'_> {
    fn goid(&self, i: u32) -> u64 {
        self.snap.goroutines[i as usize].goid.0
    }

    fn group_id(&self, i: u32) -> String {
        format!(
            "{:016x}",
            self.grouped.groups[self.grouped.member[i as usize] as usize].0
        )
    }

    /// Goroutine `i` in a relation whose objects are `objs`.
    fn entry(&self, i: u32, role: &str, with_stack: bool, objs: &[usize]) -> RelationGoroutine {
        let g = &self.snap.goroutines[i as usize];
        RelationGoroutine {
            object: self
                .rel
                .waits
                .get(&i)
                .map(|&(o, _)| format!("{:#x}", self.rel.objects[o].addr)),
            holds: objs
                .iter()
                .filter(|&&o| self.rel.objects[o].freers.contains(&i))
                .map(|&o| format!("{:#x}", self.rel.objects[o].addr))
                .collect(),
            goid: g.goid.0,
            role: role.to_string(),
            state: state(self.snap, self.grouped, i),
            at: at(self.snap, self.grouped, g, i),
            group: self.group_id(i),
            waits_on: self
                .rel
                .waits
                .get(&i)
                .map(|&(o, op)| format!("{} on {}", op.as_str(), object_text(self.rel, o))),
            stack: if with_stack {
                self.snap
                    .stack(g.stack)
                    .iter()
                    .map(|&f| loc(self.snap, f))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    fn short(&self, i: u32) -> String {
        let at = at(
            self.snap,
            self.grouped,
            &self.snap.goroutines[i as usize],
            i,
        )
        .map(|l| format!(" in {}", l.function))
        .unwrap_or_default();
        format!("goroutine {}{at}", self.goid(i))
    }
}

pub(crate) fn relations(snap: &Snapshot, grouped: &Grouped, rel: &Relations) -> Described {
    let cx = Ctx { snap, grouped, rel };
    let mut per_group = vec![GroupRelations::default(); grouped.groups.len()];
    let mut entries: Vec<Relation> = Vec::new();
    let gi = |i: u32| grouped.member[i as usize] as usize;

    // Timed loops (from memory): members waiting on a timer channel.
    for &g in &rel.timer_waits {
        per_group[gi(g)].timer_waits += 1;
    }

    // Deadlocks: each cycle with the deadlocked goroutines that wait behind it (reached
    // through the freers of what they wait on).
    let mut behind: Vec<Vec<u32>> = vec![Vec::new(); rel.cycles.len()];
    let mut behind_of: rustc_hash::FxHashMap<u32, usize> = Default::default();
    let mut deadlocked: Vec<u32> = rel.deadlocked.iter().copied().collect();
    deadlocked.sort_unstable();
    for &g in &deadlocked {
        if rel.cycle_of(g).is_some() {
            continue;
        }
        let mut seen = rustc_hash::FxHashSet::default();
        let mut queue = std::collections::VecDeque::from([g]);
        while let Some(x) = queue.pop_front() {
            if let Some(c) = rel.cycle_of(x) {
                behind[c].push(g);
                behind_of.insert(g, c);
                break;
            }
            for &(o, _) in rel.objects_of(x) {
                for &f in &rel.objects[o].freers {
                    if rel.deadlocked.contains(&f) && seen.insert(f) {
                        queue.push_back(f);
                    }
                }
            }
        }
    }
    let mut cycle_ids = Vec::new();
    for (n, c) in rel.cycles.iter().enumerate().take(MAX_RELATIONS) {
        let id = format!("deadlock-{}", n + 1);
        cycle_ids.push(id.clone());
        let path = if c.goroutines.len() <= 6 {
            let mut parts: Vec<String> = c
                .goroutines
                .iter()
                .map(|&g| match rel.waits.get(&g) {
                    Some(&(o, op)) => format!(
                        "{} ({} on {})",
                        cx.short(g),
                        op.as_str(),
                        object_text(rel, o)
                    ),
                    None => cx.short(g),
                })
                .collect();
            parts.push(format!("goroutine {}", cx.goid(c.goroutines[0])));
            parts.join(" → ")
        } else {
            format!(
                "{} goroutines wait on each other through {} objects",
                c.goroutines.len(),
                c.objects.len()
            )
        };
        let summary = format!("{}deadlock: {path}", if c.sure { "" } else { "probable " });
        let mut groups: Vec<String> = Vec::new();
        for &g in c.goroutines.iter().chain(&behind[n]) {
            let id_g = cx.group_id(g);
            if !groups.contains(&id_g) {
                groups.push(id_g);
            }
        }
        entries.push(Relation {
            id: id.clone(),
            kind: "deadlock".into(),
            sure: c.sure,
            summary: summary.clone(),
            count: (c.goroutines.len() + behind[n].len()) as u64,
            goroutines: c
                .goroutines
                .iter()
                .map(|&g| (g, "waiter"))
                .chain(behind[n].iter().map(|&g| (g, "waits-behind")))
                .take(MAX_LISTED)
                .map(|(g, role)| cx.entry(g, role, false, &c.objects))
                .collect(),
            objects: c.objects.iter().map(|&o| object(rel, o)).collect(),
            groups,
        });
        for &g in &c.goroutines {
            let pg = &mut per_group[gi(g)];
            push_unique(&mut pg.ids, &id);
            push_unique(&mut pg.lines, &summary);
        }
    }
    if !rel.deadlocked.is_empty() {
        // Sureness per goroutine: its object was named by the runtime (always) and, for a
        // lock, had a single holder candidate.
        let first = cycle_ids.first().cloned();
        for &g in &rel.deadlocked {
            let (o, _) = rel.waits[&g];
            let sure = rel
                .objects_of(g)
                .iter()
                .all(|&(o, _)| rel.objects[o].sure());
            let in_cycle = rel.cycle_of(g).map(|c| rel.cycles[c].sure);
            let pg = &mut per_group[gi(g)];
            pg.deadlock_sure = if pg.deadlocked == 0 {
                sure && in_cycle.unwrap_or(true)
            } else {
                pg.deadlock_sure && sure && in_cycle.unwrap_or(true)
            };
            pg.deadlocked += 1;
            if rel.cycle_of(g).is_none() {
                let id = behind_of
                    .get(&g)
                    .and_then(|&c| cycle_ids.get(c))
                    .or(first.as_ref());
                if let Some(id) = id {
                    push_unique(&mut pg.ids, id);
                }
                let line = format!(
                    "waits on {}, which only goroutines of a deadlock can free",
                    object_text(rel, o)
                );
                push_unique(&mut pg.lines, &line);
            }
        }
    }

    // A program in which nothing can run.
    if let Some(users) = rel.stuck {
        let id = "stuck-1".to_string();
        let summary = format!(
            "the program is hung: all {users} user goroutine{} wait on channels or locks and none runs, sleeps or waits in a select, so none can free another",
            if users == 1 { "" } else { "s" }
        );
        let mut listed = Vec::new();
        let mut groups = Vec::new();
        for (i, g) in snap.goroutines.iter().enumerate() {
            let i = i as u32;
            let (sig, a) = &grouped.groups[gi(i)];
            if !grouped.facts[&a.stack].has_user_frame
                || !rel.sync_wait(i, g.wait_reason.or(a.reason))
            {
                continue;
            }
            let pg = &mut per_group[gi(i)];
            pg.stuck = true;
            push_unique(&mut pg.ids, &id);
            push_unique(&mut pg.lines, &summary);
            let gid = format!("{sig:016x}");
            if !groups.contains(&gid) {
                groups.push(gid);
            }
            if listed.len() < MAX_LISTED {
                listed.push(cx.entry(i, "waiter", false, &[]));
            }
        }
        entries.push(Relation {
            id,
            kind: "stuck".into(),
            sure: true,
            summary,
            count: users,
            goroutines: listed,
            objects: {
                // The objects its user goroutines wait on (not the runtime's own).
                let mut o: Vec<usize> = rel
                    .waits
                    .iter()
                    .filter(|(&g, _)| {
                        let (_, a) = &grouped.groups[gi(g)];
                        grouped.facts[&a.stack].has_user_frame
                    })
                    .map(|(_, &(o, _))| o)
                    .collect();
                o.sort_unstable();
                o.dedup();
                o.into_iter()
                    .take(MAX_LISTED)
                    .map(|o| object(rel, o))
                    .collect()
            },
            groups,
        });
    }

    // Lock chains, longest first; a chain whose lock is already on a longer chain's path is
    // shown as part of it.
    let mut order: Vec<usize> = (0..rel.chains.len()).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(rel.chains[c].holders.len()));
    let mut covered: Vec<(usize, String, String)> = Vec::new(); // (object, id, summary)
    let mut kept = 0;
    for c in order {
        let ch = &rel.chains[c];
        if matches!(ch.end, ChainEnd::Deadlock | ChainEnd::NoHolder) || ch.holders.is_empty() {
            continue;
        }
        let waiters = &rel.objects[ch.object].waiters;
        if let Some((_, id, summary)) = covered.iter().find(|(o, _, _)| *o == ch.object).cloned() {
            for &(w, _) in waiters {
                add_chain(&mut per_group[gi(w)], &id, &summary, &ch.end);
            }
            continue;
        }
        if kept >= MAX_RELATIONS {
            continue;
        }
        kept += 1;
        let id = format!("lock-chain-{kept}");
        let mut text = format!(
            "{} goroutine{} wait{} on {}",
            waiters.len(),
            if waiters.len() == 1 { "" } else { "s" },
            if waiters.len() == 1 { "s" } else { "" },
            object_text(rel, ch.object)
        );
        let (root, _) = *ch.holders.last().expect("non-empty");
        for &(h, o) in &ch.holders {
            let inside = rel.objects[o]
                .holder_frames
                .iter()
                .find(|(g, _)| *g == h)
                .and_then(|&(g, f)| {
                    snap.stack(snap.goroutines[g as usize].stack)
                        .get(f)
                        .copied()
                })
                .map(|f| snap.function(f).to_string());
            let who = match inside {
                Some(m) => format!("goroutine {} in {m}", cx.goid(h)),
                None => cx.short(h),
            };
            let then = if h == root {
                match ch.end {
                    ChainEnd::Busy => {
                        format!(", {} — the lock is held too long", state(snap, grouped, h))
                    }
                    _ => format!(", blocked in {} while holding it", state(snap, grouped, h)),
                }
            } else {
                match rel.waits.get(&h) {
                    Some(&(o, _)) => format!(", which waits on {}", object_text(rel, o)),
                    None => String::new(),
                }
            };
            text.push_str(&format!(" → held by {who}{then}"));
        }
        if !ch.sure {
            text.push_str(
                " (probable holders: goroutines inside the object that contains each lock)",
            );
        }
        let chain_objs: Vec<usize> = std::iter::once(ch.object)
            .chain(ch.holders.iter().map(|&(_, o)| o))
            .collect();
        let mut goroutines: Vec<RelationGoroutine> = waiters
            .iter()
            .take(MAX_LISTED)
            .map(|&(w, _)| cx.entry(w, "waiter", false, &chain_objs))
            .collect();
        let mut groups: Vec<String> = Vec::new();
        for &(w, _) in waiters {
            let g = cx.group_id(w);
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let mut objects = vec![object(rel, ch.object)];
        for &(h, o) in &ch.holders {
            let role = if h == root { "root-holder" } else { "holder" };
            goroutines.push(cx.entry(h, role, h == root, &chain_objs));
            let g = cx.group_id(h);
            if !groups.contains(&g) {
                groups.push(g);
            }
            if o != ch.object {
                objects.push(object(rel, o));
            }
            let pg = &mut per_group[gi(h)];
            push_unique(&mut pg.ids, &id);
        }
        // The other probable holders of each lock on the chain (the readers holding an
        // RWMutex's read lock are several).
        let listed: Vec<u32> = ch.holders.iter().map(|&(h, _)| h).collect();
        let mut others = 0u64;
        for &(_, o) in &ch.holders {
            for &f in &rel.objects[o].freers {
                if listed.contains(&f) || goroutines.iter().any(|e| e.goid == cx.goid(f)) {
                    continue;
                }
                others += 1;
                if goroutines.len() < MAX_LISTED * 2 {
                    goroutines.push(cx.entry(f, "holder", false, &chain_objs));
                }
                let g = cx.group_id(f);
                if !groups.contains(&g) {
                    groups.push(g);
                }
                push_unique(&mut per_group[gi(f)].ids, &id);
            }
        }
        for &(w, _) in waiters {
            add_chain(&mut per_group[gi(w)], &id, &text, &ch.end);
        }
        for &(_, o) in &ch.holders {
            covered.push((o, id.clone(), text.clone()));
        }
        covered.push((ch.object, id.clone(), text.clone()));
        entries.push(Relation {
            id,
            kind: "lock-chain".into(),
            sure: ch.sure,
            summary: text,
            count: waiters.len() as u64 + ch.holders.len() as u64 + others,
            goroutines,
            objects,
            groups,
        });
    }
    Described { entries, per_group }
}

fn add_chain(pg: &mut GroupRelations, id: &str, summary: &str, end: &ChainEnd) {
    push_unique(&mut pg.ids, id);
    match end {
        ChainEnd::Busy if pg.chain_busy.is_none() => pg.chain_busy = Some(summary.to_string()),
        ChainEnd::Blocked if pg.chain_blocked.is_none() => {
            pg.chain_blocked = Some(summary.to_string())
        }
        _ => {}
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}
