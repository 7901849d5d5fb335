//! The live view, redrawn each second while tracing: top creation sites by live goroutines,
//! births and deaths per second, growth, age percentiles of the live set, the oldest
//! goroutines, lost events. A table on a terminal, one line a tick otherwise.

use crate::state::{quantile, State};
use std::fmt::Write;

/// A duration in ns, short.
pub fn human(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 60.0 {
        format!("{:.1}m", s / 60.0)
    } else if s >= 1.0 {
        format!("{s:.1}s")
    } else if s >= 1e-3 {
        format!("{:.1}ms", s * 1e3)
    } else {
        format!("{:.0}µs", s * 1e6)
    }
}

fn cut(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Growth over the last 30 s, per minute.
const GROWTH_SPAN_NS: u64 = 30_000_000_000;

/// The view of `state`: `tty` for the full table (`width` columns, `top` sites), else one line.
pub fn render(state: &State, title: &str, tty: bool, width: usize, top: usize) -> String {
    let elapsed = state.now_ns.saturating_sub(state.start_ns);
    let live: u64 = state.live.len() as u64;
    let births: f64 = state.sites.iter().map(|s| s.births_per_s).sum();
    let deaths: f64 = state.sites.iter().map(|s| s.deaths_per_s).sum();
    let lost = state.counters.lost();
    let mut order: Vec<usize> = (0..state.sites.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&state.sites[a], &state.sites[b]);
        (y.live, y.born, x.key.clone()).cmp(&(x.live, x.born, y.key.clone()))
    });
    let lost_text = if lost > 0 {
        format!("{lost} LOST (counts partial)")
    } else {
        "0 lost".to_string()
    };
    if !tty {
        let mut line = format!(
            "{title} +{} live={live} births/s={births:.0} deaths/s={deaths:.0} events={} {lost_text}",
            human(elapsed),
            state.events
        );
        for &i in order.iter().filter(|&&i| !state.sites[i].system).take(3) {
            let s = &state.sites[i];
            let _ = write!(line, " | {} live {}", s.key, s.live);
            if let Some(g) = s.growth_per_min(GROWTH_SPAN_NS) {
                let _ = write!(line, " {g:+.0}/min");
            }
        }
        return line;
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{title} · {} · {live} live · {births:.0} births/s · {deaths:.0} deaths/s · {} events · {lost_text}",
        human(elapsed),
        state.events
    );
    let ages = state.ages(None);
    if let (Some(p50), Some(p90), Some(p99), Some(max)) = (
        quantile(&ages, 0.5),
        quantile(&ages, 0.9),
        quantile(&ages, 0.99),
        ages.last(),
    ) {
        let _ = writeln!(
            out,
            "age of the live set: p50 {} · p90 {} · p99 {} · max {}{}",
            human(p50),
            human(p90),
            human(p99),
            if *max >= elapsed { "≥ " } else { "" },
            human(*max)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:>8} {:>9} {:>9} {:>10} {:>9}  SITE",
        "LIVE", "BORN/S", "DEATHS/S", "GROWTH/MIN", "P50 LIFE"
    );
    let site_w = width.saturating_sub(52).max(20);
    for &i in order.iter().take(top) {
        let s = &state.sites[i];
        let growth = s
            .growth_per_min(GROWTH_SPAN_NS)
            .map(|g| format!("{g:+.0}"))
            .unwrap_or_else(|| "-".into());
        let life = if s.lifetimes.count > 0 {
            human(s.lifetimes.quantile(0.5))
        } else {
            "-".into()
        };
        let mut name = s.key.to_string();
        if let Some(e) = &s.entry {
            let _ = write!(name, " → {e}");
        }
        if s.system {
            name.push_str(" [runtime]");
        }
        let _ = writeln!(
            out,
            "{:>8} {:>9.0} {:>9.0} {:>10} {:>9}  {}",
            s.live,
            s.births_per_s,
            s.deaths_per_s,
            growth,
            life,
            cut(&name, site_w)
        );
    }
    if order.len() > top {
        let _ = writeln!(out, "… {} more sites", order.len() - top);
    }
    let oldest = state.oldest(5);
    if !oldest.is_empty() {
        let _ = writeln!(out);
        let _ = write!(out, "oldest:");
        for (goid, g) in oldest {
            let age = state
                .now_ns
                .saturating_sub(g.born.unwrap_or(state.start_ns));
            let _ = write!(
                out,
                "  goroutine {goid} {}{} ({})",
                if g.born.is_none() { "≥ " } else { "" },
                human(age),
                cut(&state.sites[g.site].key.to_string(), 40)
            );
        }
        let _ = writeln!(out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Kind};
    use crate::state::{SiteKey, Symbolize};

    struct T;
    impl Symbolize for T {
        fn site(&mut self, gopc: u64) -> (SiteKey, bool) {
            (
                SiteKey::GoStatement {
                    function: if gopc == 1 { "main.leaky" } else { "main.ok" }.into(),
                    file: "main.go".into(),
                    line: gopc as u32,
                },
                true,
            )
        }
        fn function(&mut self, _: u64) -> Option<String> {
            None
        }
    }

    #[test]
    fn table_and_line() {
        let mut st = State::new(0);
        let mut goid = 10;
        for sec in 0..5u64 {
            for k in 0..4u64 {
                goid += 1;
                let ts = sec * 1_000_000_000 + k;
                let e = Event {
                    kind: Kind::Create,
                    ts,
                    goid,
                    parent_goid: 1,
                    blocked_ns: 0,
                    gopc: 1 + k % 2,
                    startpc: 0,
                    reason: 0,
                    stack_id: None,
                };
                st.apply(&e, &mut T);
                if k % 2 == 1 {
                    st.apply(
                        &Event {
                            kind: Kind::Exit,
                            ts: ts + 1000,
                            ..e
                        },
                        &mut T,
                    );
                }
            }
            st.tick((sec + 1) * 1_000_000_000);
        }
        let t = render(&st, "pid 1", true, 100, 10);
        assert!(t.contains("10 live"), "{t}");
        let leaky = t.lines().find(|l| l.contains("main.leaky")).unwrap();
        assert!(leaky.contains("+120"), "{leaky}");
        let ok = t.lines().find(|l| l.contains("main.ok")).unwrap();
        assert!(ok.trim_start().starts_with('0'), "{ok}");
        assert!(t.contains("oldest:  goroutine 11 5.0s"), "{t}");
        assert!(t.contains("0 lost"));
        let line = render(&st, "pid 1", false, 100, 10);
        assert!(!line.contains('\n'));
        assert!(
            line.contains("main.leaky (main.go:1) live 10 +120/min"),
            "{line}"
        );
        st.counters.dropped = 3;
        assert!(render(&st, "pid 1", false, 100, 10).contains("3 LOST (counts partial)"));
    }
}
