//! Reading the history: `goroscope history` (targets, a target's groups with their sites, a
//! group's series) and `db:TARGET@TIME` inputs for `analyze`, `trend` and `diff`.

use crate::store::{ms, PollRow, Reader, StoreError, StoredGroup};
use goroscope_model::{Format, Frame, Interner, ProfileKind, Record, Snapshot, Source};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable naming the history file for `db:` inputs.
pub const DB_ENV: &str = "GOROSCOPE_DB";

/// What `goroscope history` answers.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum History {
    Targets {
        targets: Vec<TargetRow>,
    },
    Groups {
        target: String,
        groups: Vec<GroupRow>,
    },
    Series {
        target: String,
        group: String,
        site: String,
        points: Vec<Point>,
    },
}

#[derive(Debug, Serialize)]
pub struct TargetRow {
    pub id: i64,
    pub key: String,
    pub labels: BTreeMap<String, String>,
    pub first_seen: String,
    pub last_seen: String,
    pub goroutines: u64,
    pub groups: usize,
}

#[derive(Debug, Serialize)]
pub struct GroupRow {
    pub group: String,
    pub count: u64,
    pub max: u64,
    pub state: String,
    pub site: String,
    pub created_by: Option<String>,
    pub verdict: String,
    pub growth: String,
    pub rate_per_minute: f64,
}

#[derive(Debug, Serialize)]
pub struct Point {
    pub t: String,
    pub unix: f64,
    pub count: u64,
}

fn t3339(ms: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
        .to_string()
}

/// Answers a history query: no target → targets; a target → its groups; and a group → its
/// series, over the last `since`.
pub fn query(
    db: &Path,
    target: Option<&str>,
    group: Option<&str>,
    since: Duration,
) -> Result<History, StoreError> {
    let r = Reader::open(db)?;
    let to = ms(SystemTime::now());
    let from = to - since.as_millis() as i64;
    let Some(spec) = target else {
        let mut rows = Vec::new();
        for t in r.targets()? {
            let last = r.poll_at(t.id, to)?;
            let (goroutines, groups) = last.map_or((0, 0), |(p, _)| {
                (p.counts.iter().map(|c| c.1).sum(), p.counts.len())
            });
            rows.push(TargetRow {
                id: t.id,
                key: t.key,
                labels: t.labels,
                first_seen: t3339(t.first_seen),
                last_seen: t3339(t.last_seen),
                goroutines,
                groups,
            });
        }
        return Ok(History::Targets { targets: rows });
    };
    let t = r.find_target(spec)?;
    let polls = r.polls(t.id, from, to)?;
    match group {
        None => {
            let mut max: HashMap<i64, u64> = HashMap::new();
            for (p, _) in &polls {
                for &(g, c) in &p.counts {
                    let e = max.entry(g).or_default();
                    *e = (*e).max(c);
                }
            }
            let last: HashMap<i64, u64> = polls
                .last()
                .map(|(p, _)| p.counts.iter().copied().collect())
                .unwrap_or_default();
            let ids: Vec<i64> = max.keys().copied().collect();
            let infos = r.groups(&ids)?;
            let verdicts = r.verdicts(t.id)?;
            let mut groups: Vec<GroupRow> = ids
                .iter()
                .filter_map(|id| {
                    let g = infos.get(id)?;
                    let (verdict, growth, rate) =
                        verdicts
                            .get(id)
                            .cloned()
                            .unwrap_or(("".into(), "".into(), 0.0));
                    Some(GroupRow {
                        group: g.gid.clone(),
                        count: last.get(id).copied().unwrap_or(0),
                        max: max[id],
                        state: g.state.clone(),
                        site: g.site.clone(),
                        created_by: creation(g),
                        verdict,
                        growth,
                        rate_per_minute: rate,
                    })
                })
                .collect();
            groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.group.cmp(&b.group)));
            Ok(History::Groups {
                target: t.key,
                groups,
            })
        }
        Some(gid) => {
            let id = r.group_by_gid(gid)?.ok_or_else(|| StoreError {
                path: db.display().to_string(),
                message: format!("no group {gid}"),
            })?;
            let info = r.groups(&[id])?;
            let points = polls
                .iter()
                .map(|(p, _)| Point {
                    t: t3339(p.t),
                    unix: p.t as f64 / 1000.0,
                    count: p.counts.iter().find(|c| c.0 == id).map_or(0, |c| c.1),
                })
                .collect();
            Ok(History::Series {
                target: t.key,
                group: gid.to_string(),
                site: info.get(&id).map(|g| g.site.clone()).unwrap_or_default(),
                points,
            })
        }
    }
}

fn creation(g: &StoredGroup) -> Option<String> {
    g.info
        .as_ref()
        .and_then(|i| i.created_by.as_ref().map(|l| l.to_string()))
        .or_else(|| g.created_by.clone())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes a history answer as `table`, `json` or `csv`.
pub fn write(w: &mut dyn Write, h: &History, form: &str) -> io::Result<()> {
    match form {
        "json" => {
            serde_json::to_writer_pretty(&mut *w, h)?;
            writeln!(w)
        }
        "csv" => match h {
            History::Targets { targets } => {
                writeln!(w, "id,key,goroutines,groups,first_seen,last_seen,labels")?;
                for t in targets {
                    let labels: Vec<String> =
                        t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{}",
                        t.id,
                        csv_field(&t.key),
                        t.goroutines,
                        t.groups,
                        t.first_seen,
                        t.last_seen,
                        csv_field(&labels.join(";"))
                    )?;
                }
                Ok(())
            }
            History::Groups { groups, .. } => {
                writeln!(
                    w,
                    "group,count,max,state,verdict,growth,rate_per_minute,site,created_by"
                )?;
                for g in groups {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{:.4},{},{}",
                        g.group,
                        g.count,
                        g.max,
                        csv_field(&g.state),
                        g.verdict,
                        g.growth,
                        g.rate_per_minute,
                        csv_field(&g.site),
                        csv_field(g.created_by.as_deref().unwrap_or(""))
                    )?;
                }
                Ok(())
            }
            History::Series { points, .. } => {
                writeln!(w, "time,unix,count")?;
                for p in points {
                    writeln!(w, "{},{},{}", p.t, p.unix, p.count)?;
                }
                Ok(())
            }
        },
        _ => match h {
            History::Targets { targets } => {
                writeln!(
                    w,
                    "{:>4}  {:>10}  {:>6}  {:<20}  TARGET",
                    "ID", "GOROUTINES", "GROUPS", "LAST SEEN"
                )?;
                for t in targets {
                    writeln!(
                        w,
                        "{:>4}  {:>10}  {:>6}  {:<20}  {}",
                        t.id, t.goroutines, t.groups, t.last_seen, t.key
                    )?;
                }
                Ok(())
            }
            History::Groups { target, groups } => {
                writeln!(w, "{target}")?;
                writeln!(
                    w,
                    "{:<16}  {:>7}  {:>7}  {:<18}  {:<9}  {:>8}  SITE / CREATED BY",
                    "GROUP", "COUNT", "MAX", "VERDICT", "GROWTH", "PER MIN"
                )?;
                for g in groups {
                    writeln!(
                        w,
                        "{:<16}  {:>7}  {:>7}  {:<18}  {:<9}  {:>8.2}  {} [{}]",
                        g.group,
                        g.count,
                        g.max,
                        g.verdict,
                        g.growth,
                        g.rate_per_minute,
                        g.site,
                        g.state
                    )?;
                    if let Some(c) = &g.created_by {
                        writeln!(
                            w,
                            "{:<16}  {:>7}  {:>7}  {:<18}  {:<9}  {:>8}  created by {c}",
                            "", "", "", "", "", ""
                        )?;
                    }
                }
                Ok(())
            }
            History::Series {
                target,
                group,
                site,
                points,
            } => {
                writeln!(w, "{target} · group {group} · {site}")?;
                for p in points {
                    writeln!(w, "{}  {:>8}", p.t, p.count)?;
                }
                Ok(())
            }
        },
    }
}

/// Splits `db:TARGET@TIME` (TIME optional: the latest poll) into the history file (from
/// `GOROSCOPE_DB`, else `goroscope.db`), the target and the time.
pub fn parse_db_input(input: &str) -> Option<Result<(PathBuf, String, SystemTime), String>> {
    let spec = input.strip_prefix("db:")?;
    let db = std::env::var_os(DB_ENV).map_or_else(|| PathBuf::from("goroscope.db"), PathBuf::from);
    let (target, time) = match spec.rsplit_once('@') {
        // An `@` inside a URL's userinfo is before the host; a time never has a `/`.
        Some((t, at)) if !at.contains('/') => (t, at),
        _ => (spec, "latest"),
    };
    if target.is_empty() {
        return Some(Err(format!(
            "`{input}`: expected db:TARGET@TIME (e.g. db:orders@-1h)"
        )));
    }
    Some(
        crate::util::parse_time(time)
            .map(|t| (db, target.to_string(), t))
            .map_err(|e| format!("`{input}`: {e}")),
    )
}

/// Loads the snapshot of `target` at `at` from the history: the last poll at or before that
/// time, as records (count × representative stack × one label set per group), so `analyze`,
/// `trend` and `diff` read it like any aggregated profile.
pub fn load_snapshot(db: &Path, target: &str, at: SystemTime) -> Result<Snapshot, StoreError> {
    let r = Reader::open(db)?;
    let t = r.find_target(target)?;
    let Some((poll, form)) = r.poll_at(t.id, ms(at))? else {
        return Err(StoreError {
            path: db.display().to_string(),
            message: format!(
                "target {} has no poll at or before {}",
                t.key,
                humantime::format_rfc3339_seconds(at)
            ),
        });
    };
    snapshot_of(&r, &t.key, &poll, &form)
}

fn snapshot_of(r: &Reader, key: &str, poll: &PollRow, form: &str) -> Result<Snapshot, StoreError> {
    let ids: Vec<i64> = poll.counts.iter().map(|c| c.0).collect();
    let infos = r.groups(&ids)?;
    let mut snap = Snapshot::new(Source {
        input: format!("db:{key}@{}", t3339(poll.t)),
        index: 0,
        line: None,
        format: match form {
            "debug1" => Format::Debug1,
            "debug2" => Format::Debug2,
            "attach" => Format::Attach,
            _ => Format::Proto,
        },
        kind: ProfileKind::Goroutine,
    });
    snap.taken_at = Some(UNIX_EPOCH + Duration::from_millis(poll.t.max(0) as u64));
    snap.context = Some(goroscope_model::Context::Live);
    for &(gid, count) in &poll.counts {
        let Some(info) = infos.get(&gid).and_then(|g| g.info.as_ref()) else {
            continue;
        };
        if info.stack.is_empty() {
            continue;
        }
        let frames: Vec<_> = info
            .stack
            .iter()
            .map(|f| {
                let function = snap.interner.intern_str(&f.function);
                let file = snap.interner.intern_str(&f.file);
                snap.interner.intern_frame(Frame {
                    function,
                    file,
                    line: f.line,
                    offset: None,
                    inlined: f.inlined,
                })
            })
            .collect();
        let stack = snap.interner.intern_stack(&frames);
        let mut pairs = Vec::new();
        for (k, vs) in &info.labels {
            if let Some(v) = vs.first() {
                pairs.push((snap.interner.intern_str(k), snap.interner.intern_str(v)));
            }
        }
        let labels = if pairs.is_empty() {
            Interner::NO_LABELS
        } else {
            snap.interner.intern_labels(pairs)
        };
        snap.records.push(Record {
            count,
            stack,
            labels,
        });
    }
    Ok(snap)
}
