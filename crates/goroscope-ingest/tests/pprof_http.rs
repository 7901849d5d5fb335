//! URL fetching against a tiny in-test HTTP server with canned answers: completion of the URL,
//! redirects, gzip bodies, and the errors for non-200, HTML, other profiles and timeouts.

use goroscope_ingest::{http, read_input, FormatHint, Options};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const DEBUG1: &str = "goroutine profile: total 3
2 @ 0x1 0x2
# labels: {\"k\":\"v\"}
#\t0x1\tmain.worker+0x1\tmain.go:10

1 @ 0x3
#\t0x3\tmain.main+0x3\tmain.go:3

";

struct Answer {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn answer(path: &str) -> Option<Answer> {
    let ok = |ct: &str, body: Vec<u8>| Answer {
        status: "200 OK",
        headers: vec![("Content-Type", ct.to_string())],
        body,
    };
    Some(match path {
        "/debug/pprof/goroutine?debug=1" => ok("text/plain; charset=utf-8", DEBUG1.into()),
        "/gz/debug/pprof/goroutine?debug=1" => {
            let mut a = ok("text/plain", goroscope_pprof::gzip(DEBUG1.as_bytes()));
            a.headers.push(("Content-Encoding", "gzip".into()));
            a
        }
        "/old/goroutine?debug=1" => Answer {
            status: "301 Moved Permanently",
            headers: vec![("Location", "/debug/pprof/goroutine?debug=1".into())],
            body: Vec::new(),
        },
        "/loop/debug/pprof/goroutine?debug=1" => Answer {
            status: "302 Found",
            headers: vec![("Location", "/loop/debug/pprof/goroutine?debug=1".into())],
            body: Vec::new(),
        },
        "/debug/pprof/goroutineleak?debug=1" => Answer {
            status: "404 Not Found",
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: b"Unknown profile\n".to_vec(),
        },
        "/html/debug/pprof/goroutine?debug=2" => ok(
            "text/html; charset=utf-8",
            b"<html><head><title>/debug/pprof/</title></head></html>".to_vec(),
        ),
        "/debug/pprof/heap?debug=2" => ok(
            "text/plain",
            b"heap profile: 1: 2 [3: 4] @ heap/1048576\n1: 2 [3: 4] @ 0x1\n".to_vec(),
        ),
        "/json/debug/pprof/goroutine?debug=2" => ok("application/json", b"{\"ok\": true}".to_vec()),
        "/slow/debug/pprof/goroutine?debug=2" => return None,
        _ => Answer {
            status: "500 Internal Server Error",
            headers: vec![],
            body: format!("no canned answer for {path}\n").into_bytes(),
        },
    })
}

/// Starts the server; returns its base URL. Requests are recorded on the channel.
fn server() -> (String, mpsc::Receiver<String>) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", ln.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for conn in ln.incoming() {
            let Ok(conn) = conn else { continue };
            let tx = tx.clone();
            thread::spawn(move || serve(conn, tx));
        }
    });
    (base, rx)
}

fn serve(conn: TcpStream, tx: mpsc::Sender<String>) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    if r.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
    }
    let path = first.split(' ').nth(1).unwrap_or("").to_string();
    let _ = tx.send(path.clone());
    let Some(a) = answer(&path) else {
        // A stuck server: hold the connection open, answer nothing.
        thread::sleep(Duration::from_secs(5));
        return;
    };
    let mut out = conn;
    let mut head = format!(
        "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        a.status,
        a.body.len()
    );
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&a.body);
}

fn err_of(url: &str, opts: &Options) -> String {
    match read_input(url, opts) {
        Ok(s) => panic!("{url}: expected an error, got {} snapshots", s.len()),
        Err(e) => {
            eprintln!("{e}");
            e.to_string()
        }
    }
}

#[test]
fn fetches_debug1_and_gzip_bodies_and_follows_redirects() {
    let (base, rx) = server();
    for path in [
        "/debug/pprof/goroutine?debug=1",
        "/gz/debug/pprof/goroutine?debug=1",
        "/old/goroutine?debug=1",
    ] {
        let url = format!("{base}{path}");
        let f = http::fetch(&url, &Options::default()).unwrap();
        assert_eq!(f.format, Some(FormatHint::Debug1), "{path}");
        assert_eq!(f.body, DEBUG1.as_bytes(), "{path}");
        let snaps = read_input(&url, &Options::default()).unwrap();
        assert_eq!(snaps[0].total_goroutines(), 3, "{path}");
        assert_eq!(snaps[0].source.input, url);
    }
    // The redirect was followed to the real path.
    let seen: Vec<String> = rx.try_iter().collect();
    assert!(
        seen.iter().any(|p| p == "/old/goroutine?debug=1"),
        "{seen:?}"
    );
    // `http_debug` picks the form when the URL does not.
    let opts = Options {
        http_debug: 1,
        ..Options::default()
    };
    let snaps = read_input(&format!("{base}/debug/pprof/"), &opts).unwrap();
    assert_eq!(snaps[0].declared_total, Some(3));
    assert!(rx.try_iter().any(|p| p == "/debug/pprof/goroutine?debug=1"));
}

#[test]
fn clear_errors_for_answers_that_are_not_dumps() {
    let (base, _rx) = server();
    let o = Options::default();
    let e = err_of(&format!("{base}/debug/pprof/goroutineleak?debug=1"), &o);
    assert!(e.contains("HTTP 404 Not Found: Unknown profile"), "{e}");
    assert!(e.contains("Go 1.26"), "{e}");
    let e = err_of(&format!("{base}/nothing?debug=2"), &o);
    assert!(e.contains("HTTP 500"), "{e}");
    assert!(e.contains("no canned answer for /nothing?debug=2"), "{e}");
    let e = err_of(&format!("{base}/html/debug/pprof/"), &o);
    assert!(e.contains("this is an HTML page"), "{e}");
    let e = err_of(&format!("{base}/debug/pprof/heap"), &o);
    assert!(e.contains("`heap` profile, not a goroutine dump"), "{e}");
    let e = err_of(&format!("{base}/json/debug/pprof/goroutine"), &o);
    assert!(e.contains("JSON"), "{e}");
    let e = err_of(&format!("{base}/loop/debug/pprof/goroutine?debug=1"), &o);
    assert!(e.contains("redirected more than"), "{e}");
}

#[test]
fn a_stuck_server_times_out() {
    let (base, _rx) = server();
    let opts = Options {
        http_timeout: Duration::from_millis(500),
        ..Options::default()
    };
    let t = Instant::now();
    let e = err_of(&format!("{base}/slow/debug/pprof/"), &opts);
    assert!(e.contains("no complete answer"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[test]
fn a_closed_port_is_a_clear_error() {
    // Bind and drop to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = err_of(
        &format!("http://127.0.0.1:{port}/debug/pprof/"),
        &Options::default(),
    );
    assert!(
        e.contains("connection refused") || e.contains("cannot connect"),
        "{e}"
    );
}
