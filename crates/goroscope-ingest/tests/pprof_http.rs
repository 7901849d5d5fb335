//! URL fetching against a tiny in-test HTTP server with canned answers: completion of the URL,
//! redirects, gzip bodies, bodies that stream, and the errors (with their kinds) for non-200,
//! HTML, other profiles, timeouts, refused connections and http/https mix-ups.

use goroscope_ingest::{http, read_input, ErrorKind, FormatHint, IngestError, Options};
use std::io::{BufRead, BufReader, Read, Write};
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
        "/nopprof/debug/pprof/goroutine?debug=2" => Answer {
            status: "404 Not Found",
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: b"404 page not found\n".to_vec(),
        },
        // What Go's TLS server answers a plain-HTTP request.
        "/tls/debug/pprof/goroutine?debug=2" => Answer {
            status: "400 Bad Request",
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: b"Client sent an HTTP request to an HTTPS server.\n".to_vec(),
        },
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

fn error(url: &str, opts: &Options) -> IngestError {
    match read_input(url, opts) {
        Ok(s) => panic!("{url}: expected an error, got {} snapshots", s.len()),
        Err(e) => {
            eprintln!("{e}");
            e
        }
    }
}

fn err_of(url: &str, opts: &Options) -> String {
    error(url, opts).to_string()
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
        let mut f = http::fetch(&url, &Options::default()).unwrap();
        assert_eq!(f.format, Some(FormatHint::Debug1), "{path}");
        let mut body = Vec::new();
        f.body.read_to_end(&mut body).unwrap();
        assert_eq!(body, DEBUG1.as_bytes(), "{path}");
        let snaps = read_input(&url, &Options::default()).unwrap();
        assert_eq!(snaps[0].total_goroutines(), 3, "{path}");
        assert_eq!(snaps[0].source.input, url);
        // Fetched from a running service.
        assert_eq!(snaps[0].context, Some(goroscope_model::Context::Live));
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
fn common_mistakes_say_what_they_are() {
    let (base, _rx) = server();
    let o = Options::default();
    // A server without net/http/pprof.
    let e = error(&format!("{base}/nopprof/debug/pprof/goroutine"), &o);
    assert_eq!(e.kind(), &ErrorKind::Http { status: 404 });
    assert!(e.to_string().contains("no net/http/pprof here"), "{e}");
    // http:// to a port that speaks HTTPS.
    let e = error(&format!("{base}/tls/debug/pprof/goroutine"), &o);
    assert_eq!(e.kind(), &ErrorKind::Http { status: 400 });
    assert!(e.to_string().contains("use https://"), "{e}");
    // https:// to a port that speaks plain HTTP (which answers the TLS hello with a 400).
    let plain = plain_http_error_server().replacen("http://", "https://", 1);
    let e = error(&format!("{plain}/debug/pprof/goroutine?debug=1"), &o);
    assert_eq!(e.kind(), &ErrorKind::Connect, "{e}");
    assert!(e.to_string().contains("answered plain HTTP"), "{e}");
    assert!(e.to_string().contains("use http://"), "{e}");
    assert!(!e.to_string().contains("InvalidContentType"), "{e}");
}

/// A plain-HTTP server that answers whatever first bytes it gets with a 400, as net/http does
/// with bytes that are not a request (such as a TLS hello).
fn plain_http_error_server() -> String {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", ln.local_addr().unwrap());
    thread::spawn(move || {
        for conn in ln.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
            );
        }
    });
    base
}

/// A server whose one answer is a text dump sent in two halves, the second only after the
/// test says so: a reader that waited for the whole body would never see the first half.
fn halting_server(first: Vec<u8>, rest: Vec<u8>) -> (String, mpsc::Sender<()>) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", ln.local_addr().unwrap());
    let (go_tx, go_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let Ok((conn, _)) = ln.accept() else { return };
        let mut r = BufReader::new(conn.try_clone().unwrap());
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                break;
            }
        }
        let mut out = conn;
        // No length: the body ends when the connection closes.
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&first);
        let _ = out.flush();
        if go_rx.recv().is_ok() {
            let _ = out.write_all(&rest);
        }
    });
    (base, go_tx)
}

#[test]
fn bodies_stream_like_files() {
    let dump = include_str!("text_data/goroutine_debug2.txt");
    // The first half is more than the head detection reads.
    let filler = "\n".repeat(goroscope_ingest::HEAD_BYTES * 2);
    let cut = dump[..dump.len() / 2].rfind("\n\n").unwrap() + 2;
    let first = format!("{}{filler}", &dump[..cut]);
    let rest = dump[cut..].to_string();
    let (base, go) = halting_server(first.clone().into_bytes(), rest.clone().into_bytes());
    let url = format!("{base}/debug/pprof/goroutine?debug=2");
    let opts = Options {
        http_timeout: Duration::from_secs(60),
        ..Options::default()
    };
    // fetch returns while the server still holds the second half back.
    let mut f = http::fetch(&url, &opts).unwrap();
    let mut got = vec![0u8; first.len()];
    f.body.read_exact(&mut got).unwrap();
    assert_eq!(got, first.as_bytes());
    go.send(()).unwrap();
    let mut tail = Vec::new();
    f.body.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, rest.as_bytes());
}

#[test]
fn a_stuck_server_times_out() {
    let (base, _rx) = server();
    let opts = Options {
        http_timeout: Duration::from_millis(500),
        ..Options::default()
    };
    let t = Instant::now();
    let e = error(&format!("{base}/slow/debug/pprof/"), &opts);
    assert_eq!(e.kind(), &ErrorKind::Timeout);
    let e = e.to_string();
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
    let e = error(
        &format!("http://127.0.0.1:{port}/debug/pprof/"),
        &Options::default(),
    );
    assert_eq!(e.kind(), &ErrorKind::Connect);
    let e = e.to_string();
    assert!(
        e.contains("connection refused") || e.contains("cannot connect"),
        "{e}"
    );
}
