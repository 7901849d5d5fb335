//! `pool-backlog`: request handlers piling up behind a full worker pool.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "pool-backlog",
    summary: "request handlers blocked handing work to a full worker pool",
    why: "when the pool's workers are stuck (a downstream that never answers) its queue fills and every new request's goroutine blocks on the send; they accumulate as long as requests arrive",
    example: "fixtures/go/pool-backlog/main.go: handlers do `s.jobs <- job{}` while the 4 workers wait on a downstream forever",
    fix: "bound the wait: select on the send with r.Context().Done() or a timeout and return 503; put deadlines on the workers' downstream calls",
    check,
};

/// Server entry points whose goroutines serve one request each.
const SERVERS: &[&str] = &[
    "net/http.(*conn).serve",
    "net/http.(*http2serverConn).runHandler",
    "google.golang.org/grpc.(*Server).handleStream",
];

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    let r = cx.reason?;
    if !matches!(r, WaitReason::ChanSend | WaitReason::Select) || !cx.blocks_in_user_code() {
        return None;
    }
    let server = cx.functions().find(|f| SERVERS.contains(f))?;
    if r == WaitReason::Select && cx.count < 2 {
        return None;
    }
    Some(
        cx.basic_evidence(Finding::new(
            Verdict::Suspect,
            "request handlers blocked handing work to a queue that is not draining",
        ))
        .with(format!("each goroutine serves a request ({server})")),
    )
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;

    #[test]
    fn handlers_blocked_on_send_are_backlog() {
        let st = [
            ("main.(*service).orders.func1", "main.go", 30),
            ("runtime/pprof.Do", "runtime.go", 51),
            ("main.(*service).orders", "main.go", 28),
            ("net/http.HandlerFunc.ServeHTTP", "server.go", 2322),
            ("net/http.(*conn).serve", "server.go", 2102),
        ];
        let gs = [G::new("chan send", &st)
            .by(("net/http.(*Server).Serve", "server.go", 3454))
            .times(12)];
        assert_eq!(
            undecided_live_leaked_at_exit(&gs).as_deref(),
            Some("pool-backlog")
        );
    }
}
