//! Completing what a user types into the `/debug/pprof` request to send: the one place every
//! command (analyze, diff, trend, `--prove`, watch) turns `http://host:6060` into a profile URL.
//!
//! | typed | goroutine profile | goroutineleak profile (`--prove`) |
//! |---|---|---|
//! | `http://h:6060`, `http://h:6060/` | `/debug/pprof/goroutine?debug=2` | `/debug/pprof/goroutineleak?debug=1` |
//! | `…/debug/pprof`, `…/debug/pprof/` (an index, any prefix) | `…/debug/pprof/goroutine?debug=2` | `…/debug/pprof/goroutineleak?debug=1` |
//! | `…/debug/pprof/goroutine?debug=1` | kept as typed | `…/debug/pprof/goroutineleak?debug=1` |
//! | `…/debug/pprof/goroutineleak` | kept (`debug=2` added): it is read as typed | none: it is the proof already |
//! | `…/debug/pprof/heap` (another profile) | kept as typed (then refused: not a goroutine dump) | `…/debug/pprof/goroutineleak?debug=1` |
//! | another path (`/admin/stacks`) | kept as typed (`debug` added) | none: where pprof lives is unknown |
//! | `…/debug/pprof/trace[?seconds=N]` | kept as typed: an execution trace of N s (1 s by default), no `debug` | `…/debug/pprof/goroutineleak?debug=1` |
//!
//! [`trace_url`] makes the execution-trace request of the service any of these names.
//!
//! A URL that names the profile asked for, an index or a bare host keeps its parameters; one
//! completed from another profile gets only the `debug` asked for. `seconds=N` (a delta profile) is always protobuf.
//! The `debug` value asked for sets [`Target::format`]: 0 → protobuf, 1 → `debug=1` text,
//! 2 → text tracebacks.

use crate::{FormatHint, Options};
use goroscope_model::ProfileKind;

/// What [`complete`] made of a user's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    /// The form the request asks for, when the URL says (`debug` or `seconds`).
    pub format: Option<FormatHint>,
    /// `seconds=N` of a delta profile: the server waits that long before answering.
    pub seconds: Option<u64>,
}

/// Completes `url` into the request to send (see the module docs): for `want`, switching
/// from whatever profile the URL names; for `None`, the profile the URL names (any, so that
/// `…/goroutineleak` reads that profile and `…/heap` gets a clear error), `goroutine` for an
/// index or a bare host. `debug=<debug>` is added where the URL does not say.
pub fn complete(url: &str, want: Option<ProfileKind>, debug: u8) -> Result<Target, String> {
    let p = Parts::parse(url)?;
    let (scheme, authority, path, query) = (p.scheme, p.authority, p.path, p.query);
    let (base, named) = (p.base, p.named);
    let want_name = match want {
        Some(ProfileKind::Goroutine) | None => "goroutine",
        Some(ProfileKind::GoroutineLeak) => "goroutineleak",
    };
    let keep_own = match (base, named) {
        // The URL names the profile asked for (or any, when none is asked for): keep it.
        (_, Some(n)) => want.is_none() || n == want_name,
        // A path of the user's own that is not under /debug/pprof.
        (None, None) => match want {
            None | Some(ProfileKind::Goroutine) => true,
            Some(ProfileKind::GoroutineLeak) => {
                return Err(format!(
                    "the path `{path}` is not under /debug/pprof, so where the {want_name} profile is cannot be told"
                ))
            }
        },
        (Some(_), None) => false,
    };
    let out_path = match base {
        Some(b) if !keep_own => format!("{b}/{want_name}"),
        _ => path.to_string(),
    };
    // Parameters typed with an index or a bare host are meant for the profile asked for;
    // those of another named profile are not.
    let mut params: Vec<&str> = if keep_own || named.is_none() {
        query.split('&').filter(|p| !p.is_empty()).collect()
    } else {
        Vec::new()
    };
    let value = |params: &[&str], name: &str| -> Option<String> {
        params.iter().find_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k == name).then(|| v.to_string())
        })
    };
    let seconds = match value(&params, "seconds") {
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| format!("`seconds={s}` is not a whole number of seconds"))?,
        ),
        None => None,
    };
    // An execution trace: `seconds` is its window (Go's handler traces 1 s without it).
    if keep_own && named == Some("trace") {
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
    let own_debug = value(&params, "debug").map(|d| d.parse::<u64>().ok());
    let format = match (seconds, own_debug) {
        (Some(_), _) => Some(FormatHint::Proto),
        (None, Some(Some(d))) => Some(format_of(d)),
        (None, Some(None)) => None,
        (None, None) => Some(format_of(u64::from(debug))),
    };
    let added;
    if seconds.is_none() && own_debug.is_none() {
        added = format!("debug={debug}");
        params.push(&added);
    }
    let mut out = format!("{scheme}://{authority}{out_path}");
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
/// index, `/debug/pprof/goroutine?debug=2`, …). Parameters other than `debug`, `seconds` and
/// `gc` are kept (a token the service wants). The error says why the URL names no pprof
/// endpoint.
pub fn trace_url(url: &str, seconds: u64) -> Result<String, String> {
    let p = Parts::parse(url)?;
    // Any path with /debug/pprof in it: its index is where the trace is.
    let root = match p.base {
        Some(b) => b.to_string(),
        None => match p.path.find("/debug/pprof") {
            Some(at) => p.path[..at + "/debug/pprof".len()].to_string(),
            None => {
                return Err(format!(
                    "`{}` is not a /debug/pprof path: name the service (http://host:port) or its /debug/pprof/ endpoint",
                    p.path
                ))
            }
        },
    };
    let mut params: Vec<String> = p
        .query
        .split('&')
        .filter(|q| !q.is_empty())
        .filter(|q| {
            let k = q.split_once('=').map_or(*q, |(k, _)| k);
            !matches!(k, "debug" | "seconds" | "gc")
        })
        .map(str::to_string)
        .collect();
    params.push(format!("seconds={seconds}"));
    Ok(format!(
        "{}://{}{root}/trace?{}",
        p.scheme,
        p.authority,
        params.join("&")
    ))
}

/// A URL taken apart.
struct Parts<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
    query: &'a str,
    /// Where the pprof index is (`/debug/pprof` under any prefix), when the path says.
    base: Option<&'a str>,
    /// The profile the path names under that index (`goroutine`, `goroutineleak`, …).
    named: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn parse(url: &'a str) -> Result<Self, String> {
        let url = url.split_once('#').map_or(url, |(u, _)| u);
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(s, _)| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
            .ok_or("not an http:// or https:// URL")?;
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(split);
        if authority.is_empty() || authority.ends_with('@') {
            return Err("the URL has no host".into());
        }
        let (path, query) = match path_query.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path_query, ""),
        };
        let trimmed = path.trim_end_matches('/');
        let (base, named) = if trimmed.is_empty() {
            (Some("/debug/pprof"), None)
        } else if trimmed.ends_with("/debug/pprof") {
            (Some(trimmed), None)
        } else {
            match trimmed.rsplit_once('/') {
                Some((b, last)) if b.ends_with("/debug/pprof") => (Some(b), Some(last)),
                _ => (None, None),
            }
        };
        Ok(Parts {
            scheme,
            authority,
            path,
            query,
            base,
            named,
        })
    }
}

fn format_of(debug: u64) -> FormatHint {
    match debug {
        0 => FormatHint::Proto,
        1 => FormatHint::Debug1,
        _ => FormatHint::Text,
    }
}

/// The goroutine-profile request for a user's URL, in the form [`Options::http_debug`] asks
/// for unless the URL says.
pub fn goroutine_url(url: &str, opts: &Options) -> Result<Target, String> {
    complete(url, None, opts.http_debug)
}

/// The `goroutineleak?debug=1` URL (the runtime's leak proof, Go 1.26+) of the service a URL
/// points at; `None` for inputs that are not URLs, for URLs that are already the goroutineleak
/// profile, and for paths not under `/debug/pprof` (where pprof lives is unknown).
pub fn leak_profile_url(input: &str) -> Option<String> {
    if !crate::is_url(input) {
        return None;
    }
    let p = Parts::parse(input).ok()?;
    if p.named == Some("goroutineleak") {
        return None;
    }
    complete(input, Some(ProfileKind::GoroutineLeak), 1)
        .ok()
        .map(|t| t.url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> Target {
        goroutine_url(url, &Options::default()).unwrap()
    }

    #[test]
    fn completes_goroutine_urls() {
        let x = t("http://h:6060/debug/pprof/goroutine");
        assert_eq!(x.url, "http://h:6060/debug/pprof/goroutine?debug=2");
        assert_eq!(x.format, Some(FormatHint::Text));
        for bare in ["http://h:6060", "http://h:6060/", "HTTP://h:6060"] {
            assert!(
                t(bare)
                    .url
                    .ends_with("h:6060/debug/pprof/goroutine?debug=2"),
                "{bare}"
            );
        }
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
        assert_eq!(
            t("http://h/debug/pprof/heap").url,
            "http://h/debug/pprof/heap?debug=2"
        );
        let x = t("http://h/debug/pprof/goroutine?debug=0");
        assert_eq!(x.format, Some(FormatHint::Proto));
        let x = t("http://h/debug/pprof/goroutine?seconds=5");
        assert_eq!(x.url, "http://h/debug/pprof/goroutine?seconds=5");
        assert_eq!((x.format, x.seconds), (Some(FormatHint::Proto), Some(5)));
        let x = t("http://h/debug/pprof/goroutine?gc=1");
        assert_eq!(x.url, "http://h/debug/pprof/goroutine?gc=1&debug=2");
        let x = t("http://h/debug/pprof/?gc=1");
        assert_eq!(x.url, "http://h/debug/pprof/goroutine?gc=1&debug=2");
        let x = t("http://h:6060?debug=1");
        assert_eq!(x.url, "http://h:6060/debug/pprof/goroutine?debug=1");
        // A path of the user's own is kept.
        assert_eq!(
            t("http://h/admin/stacks").url,
            "http://h/admin/stacks?debug=2"
        );
        assert_eq!(
            t("http://[::1]:6060").url,
            "http://[::1]:6060/debug/pprof/goroutine?debug=2"
        );
        let opts = Options {
            http_debug: 1,
            ..Options::default()
        };
        let x = goroutine_url("http://h/debug/pprof/goroutine", &opts).unwrap();
        assert_eq!(x.url, "http://h/debug/pprof/goroutine?debug=1");
        assert_eq!(x.format, Some(FormatHint::Debug1));
        assert!(goroutine_url("ftp://h/", &Options::default()).is_err());
        assert!(goroutine_url("http:///debug", &Options::default()).is_err());
        assert!(goroutine_url(
            "http://h/debug/pprof/goroutine?seconds=x",
            &Options::default()
        )
        .is_err());
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
    fn leak_urls_for_every_form() {
        let leak = "/debug/pprof/goroutineleak?debug=1";
        for (typed, want) in [
            ("http://h:6060", format!("http://h:6060{leak}")),
            ("http://h:6060/", format!("http://h:6060{leak}")),
            (
                "https://h:6060/debug/pprof",
                format!("https://h:6060{leak}"),
            ),
            ("http://h/debug/pprof/", format!("http://h{leak}")),
            (
                "http://h:1/debug/pprof/goroutine?debug=2",
                format!("http://h:1{leak}"),
            ),
            (
                "http://h:1/debug/pprof/goroutine/?seconds=3",
                format!("http://h:1{leak}"),
            ),
            (
                "http://h/svc/debug/pprof/goroutine",
                format!("http://h/svc{leak}"),
            ),
            ("http://u:p@h:1", format!("http://u:p@h:1{leak}")),
        ] {
            assert_eq!(leak_profile_url(typed).as_deref(), Some(&*want), "{typed}");
        }
        assert_eq!(leak_profile_url("dump.txt"), None);
        assert_eq!(leak_profile_url("http://h/debug/pprof/goroutineleak"), None);
        assert_eq!(
            leak_profile_url("http://h/debug/pprof/goroutineleak?debug=2"),
            None
        );
        assert_eq!(leak_profile_url("http://h/admin/stacks"), None);
    }
}
