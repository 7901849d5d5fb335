//! `io-no-deadline`: client network I/O (dial, read, DNS) with no deadline.
use super::{Ctx, Finding, Rule};
use crate::config::glob_match;
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "io-no-deadline",
    summary: "user code blocked in network I/O on a connection it dialled, with no deadline",
    why: "a read, dial or DNS lookup without a deadline or context waits as long as the peer stays silent, which can be forever",
    example: "fixtures/go/io-no-deadline/main.go: c.Read(buf) on a dialled connection whose server never answers",
    fix: "set conn.SetReadDeadline / use net.Dialer{Timeout}, http.Client{Timeout} or a context with a deadline",
    check,
};

/// Stacks of server-side I/O: waiting for the next connection or request is what servers do.
const SERVER_SIDE: &[&str] = &[
    "net.(*netFD).accept",
    "net.(**Listener).Accept",
    "net/http.(*conn).serve",
    "net/http.(*http2serverConn).*",
    "google.golang.org/grpc/internal/transport.(*http2Server).*",
];

/// net/http client calls that wait for a response in `select`.
const HTTP_CLIENT_WAIT: &[&str] = &[
    "net/http.(*persistConn).roundTrip",
    "net/http.(*Transport).getConn",
    "net/http.(*http2ClientConn).RoundTrip",
    "net/http.(*http2clientStream).waitOnHeaders",
];

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    let r = cx.reason?;
    if !cx.in_user_code() {
        return None;
    }
    if r == WaitReason::Select {
        let call = cx.functions().find(|f| HTTP_CLIENT_WAIT.contains(f))?;
        return Some(
            cx.basic_evidence(Finding::new(
                Verdict::Suspect,
                "waiting for an HTTP response with no client timeout or request deadline",
            ))
            .with(format!(
                "inside {call}: an http.Client without Timeout waits as long as the server does"
            )),
        );
    }
    if r != WaitReason::IoWait {
        return None;
    }
    if cx
        .functions()
        .any(|f| SERVER_SIDE.iter().any(|p| glob_match(p, f)))
    {
        return None;
    }
    // A connection handler started by an accept loop serves a client: idle is normal.
    if let Some(c) = cx.created_by {
        if cx.wide.accept_functions.iter().any(|a| a == c) {
            return None;
        }
    }
    let what = if cx
        .functions()
        .any(|f| f.contains("connect") || f.contains("Dial"))
    {
        "dialling"
    } else if cx
        .functions()
        .any(|f| f.starts_with("net.(*Resolver)") || f.contains("lookup"))
    {
        "resolving a name"
    } else {
        "reading or writing"
    };
    Some(
        cx.basic_evidence(Finding::new(
            Verdict::Suspect,
            format!("{what} on the network with no deadline; a silent peer blocks it forever"),
        ))
        .with("not created by an accept loop and not inside a server: client-side I/O"),
    )
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    const READ: [(&str, &str, u32); 4] = [
        ("internal/poll.(*FD).Read", "fd_unix.go", 165),
        ("net.(*netFD).Read", "fd_posix.go", 55),
        ("net.(*conn).Read", "net.go", 196),
        ("main.readReply", "main.go", 44),
    ];

    #[test]
    fn http_requests_without_timeout_are_suspect() {
        let st = [
            ("net/http.(*persistConn).roundTrip", "transport.go", 2700),
            ("net/http.(*Transport).roundTrip", "transport.go", 600),
            ("net/http.(*Client).Get", "client.go", 480),
            ("main.main.func2", "main.go", 66),
        ];
        let gs = [G::new("select", &st).times(12)];
        assert_eq!(
            undecided_live_leaked_at_exit(&gs).as_deref(),
            Some("io-no-deadline")
        );
        let g = one(&gs);
        assert_eq!(g.blocking_site.unwrap().function, "main.main.func2");
    }

    #[test]
    fn client_reads_are_suspect_server_reads_are_not() {
        let client = G::new("IO wait", &READ)
            .by(("main.main", "main.go", 60))
            .creator(1)
            .times(8);
        let accept = G::new(
            "IO wait",
            &[
                ("internal/poll.(*FD).Accept", "fd_unix.go", 1),
                ("net.(*netFD).accept", "fd_unix.go", 2),
                ("net.(*TCPListener).Accept", "tcpsock.go", 3),
                ("main.acceptForever", "main.go", 20),
            ],
        )
        .by(("main.main", "main.go", 55));
        let r = report(&[client, accept]);
        let c = r.groups.iter().find(|g| g.count == 8).unwrap();
        assert_eq!(
            (c.verdict, c.pattern.as_deref()),
            (Verdict::NeedMoreSamples, Some("io-no-deadline"))
        );
        let a = r.groups.iter().find(|g| g.count == 1).unwrap();
        assert_eq!(a.verdict, Verdict::Benign);
        // A handler started by the accept loop reads from its client: a server, benign.
        let handler = G::new("IO wait", &READ)
            .by(("main.acceptForever", "main.go", 25))
            .creator(9)
            .times(3);
        let accept = G::new(
            "IO wait",
            &[
                ("net.(*TCPListener).Accept", "tcpsock.go", 3),
                ("main.acceptForever", "main.go", 20),
            ],
        );
        let r = report(&[handler, accept]);
        assert!(
            r.groups.iter().all(|g| g.verdict == Verdict::Benign),
            "{:#?}",
            r.groups
        );
    }
}
