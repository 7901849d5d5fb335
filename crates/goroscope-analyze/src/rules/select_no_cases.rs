//! `select-no-cases`: `select {}` (or a select whose every case is a nil channel) outside main.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "select-no-cases",
    summary: "a goroutine parked in `select {}`",
    why: "a select with no cases never returns; outside the main goroutine (where it keeps a server process alive) it pins the goroutine and everything it references forever",
    example: "fixtures/go/select-no-cases/main.go: `go keepAlive()` whose body is `select {}`",
    fix: "wait on something that ends: a done channel, ctx.Done(), or return; keep `select {}` only at the end of main",
    check,
};

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    if cx.reason? != WaitReason::SelectNoCases {
        return None;
    }
    Some(cx.basic_evidence(Finding::new(
        Verdict::Leak,
        "parked in a select with no cases, which never returns",
    )))
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    #[test]
    fn select_no_cases_is_a_leak_but_not_in_main() {
        let g = one(&[G::new("select (no cases)", &[("main.keepAlive", "main.go", 9)]).times(5)]);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Leak, Some("select-no-cases"))
        );
        // Inferred from runtime.block on a stateless format.
        let g = one(&[G::new(
            "",
            &[
                ("runtime.gopark", "proc.go", 1),
                ("runtime.block", "select.go", 2),
                ("main.keepAlive", "main.go", 9),
            ],
        )]);
        assert_eq!(g.pattern.as_deref(), Some("select-no-cases"));
        let g = one(&[G::new(
            "select (no cases)",
            &[
                ("main.main", "main.go", 30),
                ("runtime.main", "proc.go", 283),
            ],
        )]);
        assert_eq!(g.verdict, Verdict::Benign);
    }
}
