//! Budgets: goroutine quotas per process, group, creation site, function or pprof label value,
//! scoped by target key and labels; warn and critical levels; a `for` duration before firing
//! and hysteresis before clearing, so a value flapping around a level pages once.
//!
//! The in-process guard labels the goroutines it starts with `guard.site` and `guard.limit`:
//! every such site gets a budget without configuration (critical at its limit, warning at 80 %).

use crate::config::{glob, BudgetKind, BudgetSection};
use crate::poll::Observation;
use crate::target::Target;
use std::collections::{BTreeMap, HashMap};

/// How bad a breach is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One budget's value for one target and key.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BudgetValue {
    pub budget: String,
    pub kind: BudgetKind,
    /// What is counted: `total`, a group id, a site, a function glob, a label value.
    pub key: String,
    pub value: u64,
    pub warn: Option<u64>,
    pub critical: Option<u64>,
    /// The level firing now, if any.
    pub firing: Option<Severity>,
}

impl BudgetValue {
    /// value / the highest configured level.
    pub fn usage(&self) -> f64 {
        let lim = self.critical.or(self.warn).unwrap_or(0);
        if lim == 0 {
            0.0
        } else {
            self.value as f64 / lim as f64
        }
    }
}

/// A budget starting or stopping to fire.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetChange {
    pub value: BudgetValue,
    /// `None`: resolved.
    pub now: Option<Severity>,
    pub before: Option<Severity>,
}

#[derive(Debug, Clone, Default)]
struct State {
    firing: Option<Severity>,
    pending: Option<(Severity, f64)>,
    last: Option<BudgetValue>,
}

/// The budget evaluator of one target.
#[derive(Debug, Default)]
pub struct Budgets {
    state: HashMap<(String, String), State>,
}

/// The implicit budget of a guard site.
pub fn guard_budget(limit: u64) -> BudgetSection {
    BudgetSection {
        name: "guard".into(),
        kind: BudgetKind::Label,
        matches: crate::poll::GUARD_SITE.into(),
        targets: "*".into(),
        labels: BTreeMap::new(),
        warn: Some((limit * 4).div_ceil(5)),
        critical: Some(limit),
        for_: None,
        hysteresis: 0.1,
    }
}

/// Whether a budget applies to a target.
pub fn applies(b: &BudgetSection, t: &Target) -> bool {
    glob(&b.targets, &t.key)
        && b.labels
            .iter()
            .all(|(k, pat)| t.labels.get(k).is_some_and(|v| glob(pat, v)))
}

/// The values a budget counts in an observation: key → goroutines.
pub fn measure(b: &BudgetSection, obs: &Observation) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    match b.kind {
        BudgetKind::Total => {
            out.insert("total".to_string(), obs.total);
        }
        BudgetKind::Group => {
            for g in &obs.groups {
                if glob(&b.matches, &g.id) {
                    out.insert(g.id.clone(), g.count);
                }
            }
        }
        BudgetKind::Site => {
            for g in &obs.groups {
                let site = g
                    .created_by
                    .as_ref()
                    .map(|l| l.function.as_str())
                    .unwrap_or_else(|| g.stack.last().map_or("?", |f| f.function.as_str()));
                if glob(&b.matches, site) {
                    *out.entry(site.to_string()).or_default() += g.count;
                }
            }
        }
        BudgetKind::Function => {
            let n: u64 = obs
                .groups
                .iter()
                .filter(|g| g.stack.iter().any(|f| glob(&b.matches, &f.function)))
                .map(|g| g.count)
                .sum();
            out.insert(b.matches.clone(), n);
        }
        BudgetKind::Label => {
            for (k, values) in &obs.label_counts {
                if glob(&b.matches, k) {
                    for (v, n) in values {
                        *out.entry(format!("{k}={v}")).or_default() += n;
                    }
                }
            }
        }
    }
    out
}

impl Budgets {
    /// Evaluates every budget that applies to `target` against `obs` at `t` (unix seconds).
    pub fn evaluate(
        &mut self,
        budgets: &[BudgetSection],
        target: &Target,
        obs: &Observation,
        t: f64,
    ) -> (Vec<BudgetValue>, Vec<BudgetChange>) {
        let mut values = Vec::new();
        let mut changes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let guards: Vec<(String, BudgetSection)> = obs
            .guard_limits
            .iter()
            .map(|(site, &lim)| (site.clone(), guard_budget(lim)))
            .collect();
        let explicit = budgets
            .iter()
            .filter(|b| applies(b, target))
            .map(|b| (None, b));
        let implicit = guards.iter().map(|(site, b)| (Some(site.as_str()), b));
        for (guard_site, b) in explicit.chain(implicit) {
            let mut measured = measure(b, obs);
            if let Some(site) = guard_site {
                let key = format!("{}={site}", crate::poll::GUARD_SITE);
                let v = measured.get(&key).copied().unwrap_or(0);
                measured = BTreeMap::from([(key, v)]);
            }
            // Keys that fired before but are absent now count as 0 (and clear).
            for ((name, key), st) in &self.state {
                if name == &b.name && st.firing.is_some() && !measured.contains_key(key) {
                    measured.insert(key.clone(), 0);
                }
            }
            for (key, value) in measured {
                seen.insert((b.name.clone(), key.clone()));
                let st = self.state.entry((b.name.clone(), key.clone())).or_default();
                let before = st.firing;
                step(st, b, value, t);
                let v = BudgetValue {
                    budget: b.name.clone(),
                    kind: b.kind,
                    key,
                    value,
                    warn: b.warn,
                    critical: b.critical,
                    firing: st.firing,
                };
                if st.firing != before {
                    changes.push(BudgetChange {
                        value: v.clone(),
                        now: st.firing,
                        before,
                    });
                }
                st.last = Some(v.clone());
                values.push(v);
            }
        }
        // A firing budget that is no longer measured at all (a guard site whose goroutines
        // are all gone, a budget removed from the config) resolves.
        for (k, st) in self.state.iter_mut() {
            if !seen.contains(k) && st.firing.is_some() {
                if let Some(mut v) = st.last.clone() {
                    v.value = 0;
                    v.firing = None;
                    changes.push(BudgetChange {
                        value: v,
                        now: None,
                        before: st.firing,
                    });
                }
                st.firing = None;
            }
        }
        self.state.retain(|k, _| seen.contains(k));
        (values, changes)
    }
}

fn level_of(b: &BudgetSection, value: u64, scale: f64) -> Option<Severity> {
    let over = |lim: Option<u64>| lim.is_some_and(|l| value as f64 >= l as f64 * scale);
    if over(b.critical) {
        Some(Severity::Critical)
    } else if over(b.warn) {
        Some(Severity::Warning)
    } else {
        None
    }
}

fn step(st: &mut State, b: &BudgetSection, value: u64, t: f64) {
    let raw = level_of(b, value, 1.0);
    // What still holds with hysteresis: a firing level stays until the value falls below
    // level × (1 − h).
    let held = level_of(b, value, 1.0 - b.hysteresis);
    let wait = b.for_.map_or(0.0, |d| d.0.as_secs_f64());
    match (st.firing, raw) {
        (cur, Some(want)) if cur.is_none_or(|c| want > c) => {
            // Going up: only after `for`.
            match st.pending {
                Some((lvl, since)) if lvl == want => {
                    if t - since >= wait {
                        st.firing = Some(want);
                        st.pending = None;
                    }
                }
                _ => {
                    if wait == 0.0 {
                        st.firing = Some(want);
                        st.pending = None;
                    } else {
                        st.pending = Some((want, t));
                    }
                }
            }
        }
        (Some(cur), _) => {
            st.pending = None;
            // Going down: as far as hysteresis lets it.
            match held {
                Some(h) if h >= cur => {}
                other => st.firing = other.min(Some(cur)),
            }
        }
        (None, None) => st.pending = None,
        (None, Some(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Dur, WatchConfig};
    use crate::poll::Form;
    use std::time::Duration;

    fn obs(total: u64) -> Observation {
        Observation {
            form: Form::Proto,
            total,
            states: Default::default(),
            groups: vec![],
            label_counts: Default::default(),
            guard_limits: Default::default(),
            go_version: None,
            max_goid: None,
            process_start: None,
            relations: vec![],
            warnings: vec![],
        }
    }

    fn budget(for_s: u64) -> BudgetSection {
        BudgetSection {
            name: "total".into(),
            kind: BudgetKind::Total,
            matches: "*".into(),
            targets: "*".into(),
            labels: BTreeMap::from([("env".to_string(), "prod".to_string())]),
            warn: Some(800),
            critical: Some(1000),
            for_: Some(Dur(Duration::from_secs(for_s))),
            hysteresis: 0.1,
        }
    }

    fn target(env: &str) -> Target {
        let mut t = Target::from_arg("http://h:1", &WatchConfig::default()).unwrap();
        t.labels.insert("env".into(), env.into());
        t
    }

    #[test]
    fn fires_after_for_and_pages_once_while_flapping() {
        let b = [budget(60)];
        let t = target("prod");
        let mut ev = Budgets::default();
        let mut fired = vec![];
        // Over critical at t=0..; fires only at t>=60.
        for (i, v) in [1010u64, 1020, 1005, 1001, 1030].iter().enumerate() {
            let (_, ch) = ev.evaluate(&b, &t, &obs(*v), i as f64 * 15.0);
            fired.extend(ch.into_iter().map(|c| (i, c.now)));
        }
        assert_eq!(fired, vec![(4, Some(Severity::Critical))]);
        // Flapping around 1000 within the 10 % band: no change.
        for (i, v) in [990u64, 1002, 950, 1001, 960].iter().enumerate() {
            let (_, ch) = ev.evaluate(&b, &t, &obs(*v), 100.0 + i as f64 * 15.0);
            assert!(ch.is_empty(), "{v}: {ch:?}");
        }
        // Below 900: down to warning (still ≥ 800·0.9).
        let (_, ch) = ev.evaluate(&b, &t, &obs(850), 300.0);
        assert_eq!(ch[0].now, Some(Severity::Warning));
        let (_, ch) = ev.evaluate(&b, &t, &obs(100), 315.0);
        assert_eq!(ch[0].now, None);
        assert_eq!(ch[0].before, Some(Severity::Warning));
    }

    #[test]
    fn a_short_spike_does_not_fire() {
        let b = [budget(60)];
        let t = target("prod");
        let mut ev = Budgets::default();
        for (i, v) in [1500u64, 100, 1500, 100].iter().enumerate() {
            let (_, ch) = ev.evaluate(&b, &t, &obs(*v), i as f64 * 30.0);
            assert!(ch.is_empty());
        }
    }

    #[test]
    fn scoped_by_labels() {
        let b = [budget(0)];
        let mut ev = Budgets::default();
        let (vals, _) = ev.evaluate(&b, &target("dev"), &obs(5000), 0.0);
        assert!(vals.is_empty());
    }

    #[test]
    fn guard_sites_have_budgets_without_configuration() {
        let mut o = obs(600);
        o.guard_limits.insert("fetch".into(), 500);
        o.label_counts.insert(
            "guard.site".into(),
            BTreeMap::from([("fetch".to_string(), 520u64), ("other".to_string(), 3)]),
        );
        let mut ev = Budgets::default();
        let (vals, ch) = ev.evaluate(&[], &target("dev"), &o, 0.0);
        assert_eq!(vals.len(), 1, "{vals:?}");
        assert_eq!(vals[0].key, "guard.site=fetch");
        assert_eq!(vals[0].value, 520);
        assert_eq!(ch[0].now, Some(Severity::Critical));
        // The site's goroutines are gone: the budget clears.
        o.label_counts.clear();
        let (_, ch) = ev.evaluate(&[], &target("dev"), &o, 15.0);
        assert_eq!(ch.len(), 1, "{ch:?}");
        assert_eq!(ch[0].now, None);
    }
}
