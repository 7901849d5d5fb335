//! Fetching `/debug/pprof/goroutine` (and `goroutineleak`) URLs from `net/http/pprof`.
//!
//! The URL is completed by [`crate::url::complete`] (a bare host or a `/debug/pprof/` index
//! gets `/debug/pprof/goroutine`, a URL without a `debug` parameter gets
//! `debug=<Options::http_debug>`); the form asked for sets [`Fetched::format`].
//!
//! The request has a connect timeout and a whole-request budget ([`Options::http_timeout`],
//! plus the `seconds` a delta profile takes), follows at most [`MAX_REDIRECTS`] redirects and
//! accepts gzip-encoded bodies. The body streams like a file: the largest text dumps work as
//! URLs, and only the protobuf reader holds its input (up to its own limit). Answers that are
//! not a goroutine dump are errors that say what came instead and what to do: a status other
//! than 200 (with the first line of the body, which is where `net/http/pprof` writes its
//! reason; a 404 says pprof is not served there), an HTML page, another profile, plain HTTP
//! where `https://` was asked (and the reverse), a refused connection.

use crate::detect::{detect_head, Detected, HTML};
use crate::readers::Head;
use crate::url::goroutine_url;
use crate::{ErrorKind, FormatHint, IngestError, Options, Result, HEAD_BYTES};
use goroscope_model::{redact_url, redact_urls_in};
use std::io::{self, Read};
use std::time::Duration;

pub use crate::url::{leak_profile_url, trace_url, Target};

/// The most redirects followed.
pub const MAX_REDIRECTS: u32 = 5;

/// The longest wait for the TCP (and TLS) connection, within the whole budget.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A fetched answer, checked to be a goroutine dump of the form asked for, streaming.
pub struct Fetched {
    /// The body (decoded if gzip-encoded), starting from its first byte.
    pub body: Box<dyn Read + Send>,
    /// The format the URL asked for, when known.
    pub format: Option<FormatHint>,
    /// The URL actually requested (after completing the path and adding `debug`).
    pub url: String,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("format", &self.format)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Fetches a URL (completed by [`goroutine_url`]) and checks that the answer starts like a
/// goroutine dump in the form asked for; the body streams (no size limit here: the text
/// readers stream, the protobuf reader keeps its own limit).
pub fn fetch(url: &str, opts: &Options) -> Result<Fetched> {
    // Errors name the URL without its secrets (userinfo, token parameters), also where a
    // message from the HTTP library quotes it.
    let shown = redact_url(url);
    let target = goroutine_url(url, opts)
        .map_err(|m| IngestError::new(ErrorKind::BadUrl, shown.as_ref(), redact_urls_in(&m)))?;
    // Errors name the request only when it differs from what the user typed.
    let err = |kind: ErrorKind, msg: String| {
        let msg = redact_urls_in(&msg);
        if target.url == url {
            IngestError::new(kind, shown.as_ref(), msg)
        } else {
            IngestError::new(
                kind,
                shown.as_ref(),
                format!("GET {}: {msg}", redact_url(&target.url)),
            )
        }
    };
    let budget = opts.http_timeout + Duration::from_secs(target.seconds.unwrap_or(0));
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(MAX_REDIRECTS)
        .max_redirects_will_error(true)
        .timeout_global(Some(budget))
        .timeout_connect(Some(CONNECT_TIMEOUT.min(opts.http_timeout)))
        .user_agent(concat!("goroscope/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent: ureq::Agent = config.into();
    let mut resp = agent.get(&target.url).call().map_err(|e| {
        let (kind, msg) = describe(&e, budget, &target.url);
        err(kind, msg)
    })?;
    let status = resp.status();
    let html = resp.body().mime_type() == Some("text/html");
    if status != ureq::http::StatusCode::OK {
        let head = resp
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_vec()
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&head);
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let mut msg = format!("the server answered HTTP {status}");
        if !first.is_empty() && !html {
            msg.push_str(&format!(": {}", clip(first, 200)));
        }
        if status == ureq::http::StatusCode::BAD_REQUEST
            && text.contains("HTTP request to an HTTPS server")
        {
            msg.push_str(" (this port speaks HTTPS: use https://)");
        } else if status == ureq::http::StatusCode::NOT_FOUND {
            if target.url.contains("/goroutineleak") {
                msg.push_str(" (the goroutineleak profile needs Go 1.26 or later)");
            } else if target.url.contains("/debug/pprof/") {
                msg.push_str(
                    " (no net/http/pprof here: the program must import _ \"net/http/pprof\" and serve \
                     http.DefaultServeMux on this port, or give the URL where it mounts the pprof handlers)",
                );
            }
        }
        return Err(err(
            ErrorKind::Http {
                status: status.as_u16(),
            },
            msg,
        ));
    }
    let mut body = resp.into_body().into_reader();
    let mut head = Vec::with_capacity(HEAD_BYTES);
    let read = loop {
        match (&mut body).take(HEAD_BYTES as u64).read_to_end(&mut head) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => break r,
        }
    };
    read.map_err(|e| {
        let kind = match e.kind() {
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        IngestError::new(
            kind,
            shown.as_ref(),
            format!("GET {}: reading the answer", redact_url(&target.url)),
        )
        .with_source(e)
    })?;
    let h = Head {
        bytes: &head,
        eof: head.len() < HEAD_BYTES,
    };
    check_body(&h, target.format, html).map_err(|m| err(ErrorKind::NotADump, m))?;
    Ok(Fetched {
        body: Box::new(io::Cursor::new(head).chain(body)),
        format: target.format,
        url: target.url,
    })
}

/// Whether the body is a goroutine dump of the form asked for.
fn check_body(
    h: &Head<'_>,
    asked: Option<FormatHint>,
    html: bool,
) -> std::result::Result<(), String> {
    let head = h.bytes;
    if html {
        return Err(HTML.into());
    }
    let got = match detect_head(h) {
        Detected::Empty => return Err("the server answered with an empty body".into()),
        Detected::NotADump(why) => return Err(why),
        Detected::Format(f) => f,
        // A gzip body (a `.pb.gz` profile, or gzipped text): the readers look inside.
        Detected::Compressed => return Ok(()),
    };
    let first_line = String::from_utf8_lossy(&head[..head.len().min(200)])
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string();
    if let Some((name, _)) = first_line.split_once(" profile") {
        if !name.is_empty()
            && name != "goroutine"
            && name != "goroutineleak"
            && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return Err(format!(
                "the server sent a `{name}` profile, not a goroutine dump (ask for /debug/pprof/goroutine)"
            ));
        }
    }
    match (asked, got) {
        (None, _) => Ok(()),
        (Some(a), g) if a == g => {
            if g == FormatHint::Text && !has_goroutine_header(head) {
                Err(format!(
                    "the answer is not a goroutine dump; it starts with `{}`",
                    clip(&first_line, 80)
                ))
            } else {
                Ok(())
            }
        }
        (Some(FormatHint::ExecTrace), _) => Err(format!(
            "asked for an execution trace but the answer is not one; it starts with `{}`",
            clip(&first_line, 80)
        )),
        (Some(FormatHint::Proto), _) => Err(format!(
            "asked for a pprof protobuf but got text starting with `{}`",
            clip(&first_line, 80)
        )),
        (Some(_), FormatHint::Proto) => {
            Err("asked for a text dump but got binary (pprof protobuf?) data".into())
        }
        (Some(_), _) => Err(format!(
            "the answer is not the goroutine dump asked for; it starts with `{}`",
            clip(&first_line, 80)
        )),
    }
}

/// A `goroutine N [` line anywhere at the start of a line.
fn has_goroutine_header(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n').any(|l| {
        let l = l.strip_prefix(b"goroutine ").unwrap_or(b"");
        let digits = l.iter().take_while(|c| c.is_ascii_digit()).count();
        digits > 0 && l[digits..].starts_with(b" ")
    })
}

/// What a failed request means, in words that say what to do about it.
fn describe(e: &ureq::Error, budget: Duration, url: &str) -> (ErrorKind, String) {
    let debug = format!("{e:?}");
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    match e {
        ureq::Error::Timeout(what) => (
            ErrorKind::Timeout,
            format!(
                "no complete answer within {budget:?} ({what} timeout); the server may be stuck or the dump large (raise the HTTP timeout)"
            ),
        ),
        ureq::Error::HostNotFound => (ErrorKind::Connect, "cannot resolve the host name".into()),
        ureq::Error::ConnectionFailed => (ErrorKind::Connect, "cannot connect".into()),
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => (
            ErrorKind::Connect,
            "connection refused: is the service running, and does it serve net/http/pprof on that port?".into(),
        ),
        // rustls read a plain-HTTP answer where a TLS record belongs.
        _ if https && (debug.contains("InvalidContentType") || debug.contains("CorruptMessage")) => (
            ErrorKind::Connect,
            "the server answered plain HTTP, not TLS: use http:// for this port".into(),
        ),
        ureq::Error::Protocol(_) if !https => (
            ErrorKind::Connect,
            format!("the answer is not HTTP ({e}); if this port serves HTTPS, use https://"),
        ),
        ureq::Error::TooManyRedirects => (
            ErrorKind::Http { status: 0 },
            format!("redirected more than {MAX_REDIRECTS} times"),
        ),
        ureq::Error::BadUri(u) => (ErrorKind::BadUrl, format!("bad URL {u}")),
        other => (ErrorKind::Connect, other.to_string()),
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        body: &[u8],
        asked: Option<FormatHint>,
        html: bool,
    ) -> std::result::Result<(), String> {
        check_body(
            &Head {
                bytes: body,
                eof: true,
            },
            asked,
            html,
        )
    }

    #[test]
    fn checks_bodies() {
        let text = Some(FormatHint::Text);
        assert!(check(b"goroutine 1 [running]:\nmain.main()\n", text, false).is_ok());
        let e = check(b"<!DOCTYPE html><html>", text, false).unwrap_err();
        assert!(e.contains("HTML page"), "{e}");
        assert!(check(b"x", text, true).unwrap_err().contains("HTML page"));
        let e = check(b"heap profile: 1: 2 [3: 4] @ heap/1048576\n", text, false).unwrap_err();
        assert!(e.contains("`heap` profile"), "{e}");
        let e = check(
            b"threadcreate profile: total 7\n",
            Some(FormatHint::Debug1),
            false,
        )
        .unwrap_err();
        assert!(e.contains("`threadcreate` profile"), "{e}");
        let e = check(b"hello world\n", text, false).unwrap_err();
        assert!(e.contains("not a goroutine dump"), "{e}");
        let e = check(
            b"goroutine profile: total 1\n",
            Some(FormatHint::Proto),
            false,
        )
        .unwrap_err();
        assert!(e.contains("asked for a pprof protobuf"), "{e}");
        assert!(check(b"", text, false).unwrap_err().contains("empty"));
        assert!(check(&[0x1f, 0x8b, 8, 0], Some(FormatHint::Proto), false).is_ok());
        // A gzipped body asked for as text: the readers look inside.
        assert!(check(&[0x1f, 0x8b, 8, 0], text, false).is_ok());
        let trace = Some(FormatHint::ExecTrace);
        assert!(check(b"go 1.25 trace\0\0\0", trace, false).is_ok());
        let e = check(b"goroutine profile: total 1\n", trace, false).unwrap_err();
        assert!(e.contains("asked for an execution trace"), "{e}");
    }
}
