//! A minimal HTTP/1.1 client for tests that talk to real servers (Prometheus, etcd…): one
//! keep-alive connection per [`Conn`], reconnecting when the server closes it, so that
//! repeated `/debug/pprof` requests add one stable connection to the server's goroutines
//! instead of a lingering close per request.

use crate::FETCH_TIMEOUT;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;

/// A keep-alive connection to `host:port`.
pub struct Conn {
    addr: String,
    conn: Option<BufReader<TcpStream>>,
}

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Conn {
    /// A connection to `addr` (`127.0.0.1:9090`), opened on first use.
    pub fn new(addr: impl Into<String>) -> Conn {
        Conn {
            addr: addr.into(),
            conn: None,
        }
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> io::Result<Response> {
        self.request("GET", path, None, &[])
    }

    /// `method path` with a body of `content_type` (when given). One retry on a fresh
    /// connection when a kept-alive one turns out closed.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> io::Result<Response> {
        let reused = self.conn.is_some();
        match self.once(method, path, content_type, body) {
            Err(_) if reused => {
                self.conn = None;
                self.once(method, path, content_type, body)
            }
            r => r,
        }
    }

    fn once(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> io::Result<Response> {
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.addr)?;
            s.set_read_timeout(Some(FETCH_TIMEOUT))?;
            s.set_write_timeout(Some(FETCH_TIMEOUT))?;
            self.conn = Some(BufReader::with_capacity(1 << 16, s));
        }
        let conn = self.conn.as_mut().expect("connected above");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: goroscope-tests\r\nAccept-Encoding: identity\r\n",
            self.addr
        );
        if let Some(ct) = content_type {
            req.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let result = conn
            .get_mut()
            .write_all(req.as_bytes())
            .and_then(|_| conn.get_mut().write_all(body))
            .and_then(|_| read_response(conn));
        match result {
            Ok((status, body, keep)) => {
                if !keep {
                    self.conn = None;
                }
                Ok(Response { status, body })
            }
            Err(e) => {
                self.conn = None;
                Err(io::Error::new(
                    e.kind(),
                    format!("{method} http://{}{path}: {e}", self.addr),
                ))
            }
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it for a listener we
/// closed at once). A server started on it may still lose a race for it: callers retry.
pub fn free_port() -> io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Read};
    use std::net::TcpListener;

    /// A keep-alive exchange, then a server that closes: the client reconnects.
    #[test]
    fn keeps_the_connection_and_reconnects_when_closed() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let mut conns = 0;
            let mut requests = Vec::new();
            for s in l.incoming().take(2) {
                conns += 1;
                let mut r = BufReader::new(s.unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    requests.push(format!(
                        "{} {}",
                        line.trim(),
                        String::from_utf8(body).unwrap()
                    ));
                    // The second request on the first connection gets `Connection: close`.
                    let close = requests.len() == 2;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n{}\r\nok",
                        if close { "Connection: close\r\n" } else { "" }
                    );
                    r.get_mut().write_all(resp.as_bytes()).unwrap();
                    if close || requests.len() == 3 {
                        break;
                    }
                }
            }
            (conns, requests)
        });
        let mut c = Conn::new(addr);
        assert_eq!(c.get("/a").unwrap().text(), "ok");
        let r = c
            .request("POST", "/b", Some("application/json"), b"{}")
            .unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "ok"));
        assert_eq!(c.get("/c").unwrap().status, 200);
        let (conns, requests) = server.join().unwrap();
        assert_eq!(conns, 2);
        assert_eq!(
            requests,
            [
                "GET /a HTTP/1.1 ",
                "POST /b HTTP/1.1 {}",
                "GET /c HTTP/1.1 "
            ]
        );
    }
}

/// Reads one HTTP/1.1 response: `(status, body, keep-alive)`. Handles `Content-Length`,
/// `Transfer-Encoding: chunked` and close-delimited bodies.
pub(crate) fn read_response(r: &mut impl BufRead) -> io::Result<(u16, Vec<u8>, bool)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a status line",
        ));
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad HTTP status line {line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep = version == "HTTP/1.1";
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside the headers",
            ));
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((k, v)) = h.split_once(':') else {
            return Err(io::Error::other(format!("bad HTTP header {h:?}")));
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "content-length" => {
                length = Some(
                    v.parse()
                        .map_err(|_| io::Error::other(format!("bad Content-Length {v:?}")))?,
                )
            }
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "connection" if v.eq_ignore_ascii_case("close") => keep = false,
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(size, 16)
                .map_err(|_| io::Error::other(format!("bad chunk size line {line:?}")))?;
            if n == 0 {
                // Trailers, then the blank line.
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
        keep = false;
    }
    Ok((status, body, keep))
}

#[cfg(test)]
mod response_tests {
    use super::*;
    #[test]
    fn reads_chunked_and_sized_responses() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nnopeEXTRA";
        let mut r = BufReader::new(&raw[..]);
        let (s, b, k) = read_response(&mut r).unwrap();
        assert_eq!((s, b.as_slice(), k), (200, &b"hello world"[..], true));
        let (s, b, k) = read_response(&mut r).unwrap();
        assert_eq!((s, b.as_slice(), k), (404, &b"nop"[..], false));
    }

    #[test]
    fn bad_responses_are_errors() {
        for raw in [
            &b""[..],
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        ] {
            assert!(read_response(&mut BufReader::new(raw)).is_err(), "{raw:?}");
        }
    }
}
