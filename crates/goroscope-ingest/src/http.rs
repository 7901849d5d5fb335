//! Fetching `/debug/pprof/goroutine` (and `goroutineleak`, and `trace`) URLs from
//! `net/http/pprof`.
//!
//! The URL is completed the way a user means it: a bare host or a `/debug/pprof/` index gets
//! `/debug/pprof/goroutine`, and a URL without a `debug` parameter gets
//! `debug=<Options::http_debug>` (2 by default, the form with goroutine ids and states), unless
//! it asks for a delta profile with `seconds=N`, which is always protobuf. The form asked for
//! sets [`Fetched::format`]: `debug=0` or `seconds` → protobuf, `1` → debug=1 text, `2` → text.
//!
//! The request has a connect timeout and a whole-request budget ([`Options::http_timeout`],
//! plus the `seconds` a delta profile takes), follows at most [`MAX_REDIRECTS`] redirects,
//! accepts gzip-encoded bodies and refuses bodies over [`MAX_BODY_BYTES`]. Answers that are
//! not a goroutine dump are errors that say what came instead: a status other than 200 (with
//! the first line of the body, which is where `net/http/pprof` writes its reason), an HTML
//! page, another profile, or something else.

use crate::detect::{detect, Detected};
use crate::{FormatHint, IngestError, Options, Result, HEAD_BYTES};
use goroscope_model::{redact_url, redact_urls_in};
use std::time::Duration;

/// The most redirects followed.
pub const MAX_REDIRECTS: u32 = 5;

/// The largest answer read (decompressed).
pub const MAX_BODY_BYTES: u64 = crate::proto::MAX_PROFILE_BYTES;

/// The longest wait for the TCP (and TLS) connection, within the whole budget.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A fetched answer.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// The format the URL asked for, when known.
    pub format: Option<FormatHint>,
    /// The URL actually requested (after completing the path and adding `debug`).
    pub url: String,
}

/// What [`goroutine_url`] made of a user's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub format: Option<FormatHint>,
    /// `seconds=N` of a delta profile: the server waits that long before answering.
    pub seconds: Option<u64>,
}

/// Completes a user's URL into the goroutine-profile request to send (see the module docs).
pub fn goroutine_url(url: &str, opts: &Options) -> std::result::Result<Target, String> {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
        .ok_or("not an http:// or https:// URL")?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(split);
    if authority.is_empty() {
        return Err("the URL has no host".into());
    }
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_query, ""),
    };
    let path = if path.is_empty() || path == "/" {
        "/debug/pprof/goroutine".to_string()
    } else if path.ends_with("/debug/pprof") {
        format!("{path}/goroutine")
    } else if path.ends_with("/debug/pprof/") {
        format!("{path}goroutine")
    } else {
        path.to_string()
    };
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let value = |name: &str| {
        params.iter().find_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k == name).then_some(v)
        })
    };
    let seconds = match value("seconds") {
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| format!("`seconds={s}` is not a whole number of seconds"))?,
        ),
        None => None,
    };
    let debug = value("debug").map(|d| d.parse::<u64>().ok());
    // An execution trace: `seconds` is its window (Go's handler traces 1 s without it).
    if path.ends_with("/debug/pprof/trace") {
        let mut out = format!("{scheme}://{authority}{path}");
        if !params.is_empty() {
            out.push('?');
            out.push_str(&params.join("&"));
        }
        return Ok(Target {
            url: out,
            format: Some(FormatHint::ExecTrace),
            seconds: Some(seconds.unwrap_or(1)),
        });
    }
    let format = match (seconds, debug) {
        (Some(_), _) => Some(FormatHint::Proto),
        (None, Some(Some(0))) => Some(FormatHint::Proto),
        (None, Some(Some(1))) => Some(FormatHint::Debug1),
        (None, Some(Some(_))) => Some(FormatHint::Text),
        (None, Some(None)) => None,
        (None, None) => format_of(u64::from(opts.http_debug)),
    };
    let added;
    if seconds.is_none() && debug.is_none() {
        added = format!("debug={}", opts.http_debug);
        params.push(&added);
    }
    let mut out = format!("{scheme}://{authority}{path}");
    if !params.is_empty() {
        out.push('?');
        out.push_str(&params.join("&"));
    }
    Ok(Target {
        url: out,
        format,
        seconds,
    })
}

/// The execution trace of the next `seconds` of the service a user's URL names:
/// `/debug/pprof/trace?seconds=N` beside the profile it names (a bare host, a `/debug/pprof/`
/// index, `/debug/pprof/goroutine?debug=2`, …). Parameters other than `debug`, `seconds` and `gc`
/// are kept (a token the service wants). The error says why the URL names no pprof endpoint.
pub fn trace_url(url: &str, seconds: u64) -> std::result::Result<String, String> {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
        .ok_or("not an http:// or https:// URL")?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(split);
    if authority.is_empty() {
        return Err("the URL has no host".into());
    }
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let root = if path.is_empty() || path == "/" {
        "/debug/pprof".to_string()
    } else if let Some(at) = path.find("/debug/pprof") {
        path[..at + "/debug/pprof".len()].to_string()
    } else {
        return Err(format!(
            "`{path}` is not a /debug/pprof path: name the service (http://host:port) or its /debug/pprof/ endpoint"
        ));
    };
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let k = p.split_once('=').map_or(*p, |(k, _)| k);
            !matches!(k, "debug" | "seconds" | "gc")
        })
        .map(str::to_string)
        .collect();
    params.push(format!("seconds={seconds}"));
    Ok(format!(
        "{scheme}://{authority}{root}/trace?{}",
        params.join("&")
    ))
}

fn format_of(debug: u64) -> Option<FormatHint> {
    Some(match debug {
        0 => FormatHint::Proto,
        1 => FormatHint::Debug1,
        _ => FormatHint::Text,
    })
}

/// Fetches a URL (completed by [`goroutine_url`]) and checks that the answer is a goroutine dump
/// in the form asked for.
pub fn fetch(url: &str, opts: &Options) -> Result<Fetched> {
    // Errors name the URL without its secrets (userinfo, token parameters), also where a
    // message from the HTTP library quotes it.
    let shown = redact_url(url);
    let target = goroutine_url(url, opts)
        .map_err(|m| IngestError::new(shown.as_ref(), redact_urls_in(&m)))?;
    // Errors name the request only when it differs from what the user typed.
    let err = |msg: String| {
        let msg = redact_urls_in(&msg);
        if target.url == url {
            IngestError::new(shown.as_ref(), msg)
        } else {
            IngestError::new(
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
    let mut resp = agent
        .get(&target.url)
        .call()
        .map_err(|e| err(describe(&e, budget)))?;
    let status = resp.status();
    let html = resp.body().mime_type() == Some("text/html");
    if status != ureq::http::StatusCode::OK {
        let head = resp
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_vec()
            .unwrap_or_default();
        let first = String::from_utf8_lossy(&head);
        let first = first
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let mut msg = format!("the server answered HTTP {status}");
        if !first.is_empty() && !html {
            msg.push_str(&format!(": {}", clip(first, 200)));
        }
        if status == ureq::http::StatusCode::NOT_FOUND && target.url.contains("goroutineleak") {
            msg.push_str(" (the goroutineleak profile needs Go 1.26 or later)");
        }
        return Err(err(msg));
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(n) => {
                err(format!("the answer is larger than {n} bytes; refusing it"))
            }
            e => err(format!("reading the answer: {}", describe(&e, budget))),
        })?;
    check_body(&body, target.format, html).map_err(err)?;
    Ok(Fetched {
        body,
        format: target.format,
        url: target.url,
    })
}

/// Whether the body is a goroutine dump of the form asked for.
fn check_body(
    body: &[u8],
    asked: Option<FormatHint>,
    html: bool,
) -> std::result::Result<(), String> {
    let head = &body[..body.len().min(HEAD_BYTES)];
    if html {
        return Err(HTML.into());
    }
    let got = match detect(head) {
        Detected::Empty => return Err("the server answered with an empty body".into()),
        Detected::NotADump(why) => return Err(why),
        Detected::Format(f) => f,
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

const HTML: &str = "this is an HTML page, not a goroutine dump (for a /debug/pprof/ index, ask for /debug/pprof/goroutine?debug=2)";

/// A `goroutine N [` line anywhere at the start of a line.
fn has_goroutine_header(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n').any(|l| {
        let l = l.strip_prefix(b"goroutine ").unwrap_or(b"");
        let digits = l.iter().take_while(|c| c.is_ascii_digit()).count();
        digits > 0 && l[digits..].starts_with(b" ")
    })
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

fn describe(e: &ureq::Error, budget: Duration) -> String {
    match e {
        ureq::Error::Timeout(what) => format!(
            "no complete answer within {budget:?} ({what} timeout); the server may be stuck or the dump large (raise the HTTP timeout)"
        ),
        ureq::Error::HostNotFound => "cannot resolve the host name".into(),
        ureq::Error::ConnectionFailed => "cannot connect".into(),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: is the service running, and does it serve net/http/pprof on that port?".into()
        }
        ureq::Error::TooManyRedirects => {
            format!("redirected more than {MAX_REDIRECTS} times")
        }
        ureq::Error::BadUri(u) => format!("bad URL {u}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> Target {
        goroutine_url(url, &Options::default()).unwrap()
    }

    #[test]
    fn completes_urls() {
        let x = t("http://h:6060/debug/pprof/goroutine");
        assert_eq!(x.url, "http://h:6060/debug/pprof/goroutine?debug=2");
        assert_eq!(x.format, Some(FormatHint::Text));
        assert_eq!(
            t("http://h:6060").url,
            "http://h:6060/debug/pprof/goroutine?debug=2"
        );
        assert_eq!(
            t("http://h:6060/").url,
            "http://h:6060/debug/pprof/goroutine?debug=2"
        );
        assert_eq!(
            t("https://h/x/debug/pprof/").url,
            "https://h/x/debug/pprof/goroutine?debug=2"
        );
        assert_eq!(
            t("http://h/debug/pprof").url,
            "http://h/debug/pprof/goroutine?debug=2"
        );
        let x = t("http://h/debug/pprof/goroutineleak?debug=1#frag");
        assert_eq!(x.url, "http://h/debug/pprof/goroutineleak?debug=1");
        assert_eq!(x.format, Some(FormatHint::Debug1));
        let x = t("http://h/debug/pprof/goroutine?debug=0");
        assert_eq!(x.format, Some(FormatHint::Proto));
        let x = t("http://h/debug/pprof/goroutine?seconds=5");
        assert_eq!(x.url, "http://h/debug/pprof/goroutine?seconds=5");
        assert_eq!((x.format, x.seconds), (Some(FormatHint::Proto), Some(5)));
        let x = t("http://h/debug/pprof/?gc=1");
        assert_eq!(x.url, "http://h/debug/pprof/goroutine?gc=1&debug=2");
        let opts = Options {
            http_debug: 1,
            ..Options::default()
        };
        let x = goroutine_url("http://h/debug/pprof/goroutine", &opts).unwrap();
        assert_eq!(x.url, "http://h/debug/pprof/goroutine?debug=1");
        assert_eq!(x.format, Some(FormatHint::Debug1));
        assert!(goroutine_url("ftp://h/", &Options::default()).is_err());
        assert!(goroutine_url("http:///debug", &Options::default()).is_err());
        assert!(goroutine_url("http://h/?seconds=x", &Options::default()).is_err());
    }

    #[test]
    fn trace_urls() {
        assert_eq!(
            trace_url("http://h:6060", 5).unwrap(),
            "http://h:6060/debug/pprof/trace?seconds=5"
        );
        assert_eq!(
            trace_url("http://h:6060/debug/pprof/goroutine?debug=2#x", 3).unwrap(),
            "http://h:6060/debug/pprof/trace?seconds=3"
        );
        assert_eq!(
            trace_url("https://h/x/debug/pprof/?token=abc&seconds=9", 2).unwrap(),
            "https://h/x/debug/pprof/trace?token=abc&seconds=2"
        );
        assert!(trace_url("http://h/metrics", 5)
            .unwrap_err()
            .contains("not a /debug/pprof path"));
        assert!(trace_url("ftp://h/", 5).is_err());
        // A trace URL as typed: its window, never a debug parameter.
        let x = t("http://h/debug/pprof/trace?seconds=4");
        assert_eq!(x.url, "http://h/debug/pprof/trace?seconds=4");
        assert_eq!(
            (x.format, x.seconds),
            (Some(FormatHint::ExecTrace), Some(4))
        );
        let x = t("http://h/debug/pprof/trace");
        assert_eq!(x.url, "http://h/debug/pprof/trace");
        assert_eq!(x.seconds, Some(1), "Go's handler traces 1 s by default");
    }

    #[test]
    fn checks_bodies() {
        let text = Some(FormatHint::Text);
        assert!(check_body(b"goroutine 1 [running]:\nmain.main()\n", text, false).is_ok());
        let e = check_body(b"<!DOCTYPE html><html>", text, false).unwrap_err();
        assert!(e.contains("HTML page"), "{e}");
        assert!(check_body(b"x", text, true)
            .unwrap_err()
            .contains("HTML page"));
        let e = check_body(b"heap profile: 1: 2 [3: 4] @ heap/1048576\n", text, false).unwrap_err();
        assert!(e.contains("`heap` profile"), "{e}");
        let e = check_body(
            b"threadcreate profile: total 7\n",
            Some(FormatHint::Debug1),
            false,
        )
        .unwrap_err();
        assert!(e.contains("`threadcreate` profile"), "{e}");
        let e = check_body(b"hello world\n", text, false).unwrap_err();
        assert!(e.contains("not a goroutine dump"), "{e}");
        let e = check_body(
            b"goroutine profile: total 1\n",
            Some(FormatHint::Proto),
            false,
        )
        .unwrap_err();
        assert!(e.contains("asked for a pprof protobuf"), "{e}");
        assert!(check_body(b"", text, false).unwrap_err().contains("empty"));
        assert!(check_body(&[0x1f, 0x8b, 8, 0], Some(FormatHint::Proto), false).is_ok());
        let trace = Some(FormatHint::ExecTrace);
        assert!(check_body(b"go 1.25 trace\0\0\0", trace, false).is_ok());
        let e = check_body(b"goroutine profile: total 1\n", trace, false).unwrap_err();
        assert!(e.contains("asked for an execution trace"), "{e}");
    }
}
