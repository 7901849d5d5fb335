//! `http-body-not-closed`: net/http client connections held by response bodies nobody closes.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "http-body-not-closed",
    summary: "net/http persistConn read/write loops of responses whose body is never closed",
    why: "until a response body is read to EOF or closed, its connection's readLoop waits for it and the connection cannot return to the pool; every further request dials a new connection with two more goroutines",
    example: "fixtures/go/http-body-not-closed/main.go: `resp, _ := client.Get(url)` without `defer resp.Body.Close()`",
    fix: "always `defer resp.Body.Close()` after checking the error (and drain it with io.Copy(io.Discard, resp.Body) to reuse the connection)",
    check,
};

const READ_LOOP: &str = "net/http.(*persistConn).readLoop";
const WRITE_LOOP: &str = "net/http.(*persistConn).writeLoop";

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    if cx.in_user_code() || cx.reason? != WaitReason::Select {
        return None;
    }
    match cx.blocking_function()? {
        READ_LOOP => {
            // An idle pooled connection's readLoop waits in IO wait (Peek); in select it is
            // waiting for the body of a response to be consumed.
            let v = if cx.count >= 2 || cx.max_minutes().unwrap_or(0) >= 1 {
                Verdict::Leak
            } else {
                Verdict::Suspect
            };
            Some(cx.basic_evidence(
                Finding::new(v, "HTTP client connections wait for response bodies that are never read or closed")
                    .with("persistConn.readLoop in select (an idle connection waits in IO wait instead)"),
            ))
        }
        WRITE_LOOP if cx.wide.stuck_read_loops > 0 => {
            let stuck = cx.wide.stuck_read_loops;
            let v = if stuck >= cx.count && stuck >= 2 {
                Verdict::Leak
            } else {
                Verdict::Suspect
            };
            Some(cx.basic_evidence(
                Finding::new(v, "write loops of HTTP client connections held by unclosed response bodies")
                    .with(format!("{stuck} readLoop goroutines of the same transport wait for a body to be consumed")),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    const CREATED: (&str, &str, u32) = ("net/http.(*Transport).dialConn", "transport.go", 1944);

    #[test]
    fn read_loops_in_select_are_leaks_and_idle_ones_benign() {
        let read = G::new(
            "select",
            &[
                ("net/http.(*persistConn).readLoop", "transport.go", 2398),
                ("runtime.goexit", "asm.s", 1),
            ],
        )
        .by(CREATED)
        .times(6);
        let write = G::new(
            "select",
            &[("net/http.(*persistConn).writeLoop", "transport.go", 2600)],
        )
        .by(CREATED)
        .times(6);
        let r = report(&[read, write.clone()]);
        assert_eq!(r.groups.len(), 2);
        for g in &r.groups {
            assert_eq!(
                (g.verdict, g.pattern.as_deref()),
                (Verdict::Leak, Some("http-body-not-closed")),
                "{g:?}"
            );
        }
        // Healthy: idle readLoops in IO wait, writeLoops in select.
        let idle = G::new(
            "IO wait",
            &[
                ("internal/poll.(*FD).Read", "fd_unix.go", 165),
                ("net.(*conn).Read", "net.go", 196),
                ("bufio.(*Reader).Peek", "bufio.go", 152),
                ("net/http.(*persistConn).readLoop", "transport.go", 2300),
            ],
        )
        .by(CREATED);
        let r = report(&[idle.clone().times(60), write.clone().times(60)]);
        assert!(
            r.groups.iter().all(|g| g.verdict == Verdict::Benign),
            "{:#?}",
            r.groups
        );
        // Past what one default Transport keeps: a Transport per call, or limits raised on
        // purpose; a live dump cannot tell, the size of the process or a second sample can.
        let r = report(&[idle.times(2000), write.times(2000)]);
        assert!(
            r.groups
                .iter()
                .filter(|g| g.pattern.as_deref() == Some("transport-per-call"))
                .all(|g| g.verdict == Verdict::NeedMoreSamples && g.next_step.is_some()),
            "{:#?}",
            r.groups
        );
    }
}
