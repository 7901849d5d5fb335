//! Secrets out of URLs before they are shown: one function every crate uses wherever it names a
//! URL (report headers, `Source::input`, errors, warnings, titles).
//!
//! [`redact_url`] replaces the userinfo (`user:password@`) of a URL and the values of query and
//! fragment parameters whose names look like credentials (`token`, `access_token`, `api_key`,
//! `password`, `signature`, `X-Amz-Credential`, …) with `***`; everything else (scheme, host,
//! port, path, other parameters such as `debug=2`) is kept, so the URL still says where it
//! points. [`redact_urls_in`] does the same to every `http://` or `https://` URL inside a piece
//! of free text (an error message that quotes a URL).

use std::borrow::Cow;

/// What a secret is replaced with.
pub const REDACTED: &str = "***";

/// `s` with its secrets replaced by [`REDACTED`] when it is an `http(s)://` URL (any other
/// `scheme://` URL too); anything that is not a URL comes back unchanged.
///
/// ```
/// use goroscope_model::redact_url;
/// assert_eq!(
///     redact_url("http://admin:hunter2@host:6060/debug/pprof/goroutine?debug=2&token=abc"),
///     "http://***@host:6060/debug/pprof/goroutine?debug=2&token=***"
/// );
/// assert_eq!(redact_url("dump.txt"), "dump.txt");
/// ```
pub fn redact_url(s: &str) -> Cow<'_, str> {
    let Some(scheme_end) = s.find("://") else {
        return Cow::Borrowed(s);
    };
    let scheme = &s[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Cow::Borrowed(s);
    }
    let rest_at = scheme_end + 3;
    let rest = &s[rest_at..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let tail = &rest[authority_end..];
    let mut changed = false;
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..rest_at]);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(REDACTED);
            out.push_str(&authority[at..]);
            changed = true;
        }
        None => out.push_str(authority),
    }
    // Path, then `?query`, then `#fragment`: parameters in the last two.
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    out.push_str(path);
    if let Some(q) = query {
        out.push('?');
        changed |= push_params(&mut out, q);
    }
    if let Some(f) = fragment {
        out.push('#');
        changed |= push_params(&mut out, f);
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// Appends `a=1&token=x` with secret values replaced; whether any was.
fn push_params(out: &mut String, params: &str) -> bool {
    let mut changed = false;
    for (i, p) in params.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match p.split_once('=') {
            Some((k, v)) if !v.is_empty() && is_secret_name(k) => {
                out.push_str(k);
                out.push('=');
                out.push_str(REDACTED);
                changed = true;
            }
            _ => out.push_str(p),
        }
    }
    changed
}

/// Whether a parameter name looks like it carries a credential.
fn is_secret_name(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const EXACT: &[&str] = &["key", "sig", "code", "pass", "auth", "sid"];
    const PART: &[&str] = &[
        "token",
        "secret",
        "passw",
        "pwd",
        "authorization",
        "apikey",
        "accesskey",
        "privatekey",
        "credential",
        "signature",
        "session",
        "jwt",
        "bearer",
        "cookie",
    ];
    EXACT.contains(&n.as_str()) || PART.iter().any(|p| n.contains(p))
}

/// `text` with every `scheme://…` URL in it passed through [`redact_url`]. A URL ends at
/// whitespace, a quote, a backtick or an angle bracket; punctuation right before that end
/// (`:`, `,`, `.`, `;`, `)`, `]`) is left outside it.
pub fn redact_urls_in(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        // The scheme: the letters right before `://`.
        let start = rest[..sep]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = rest[sep..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .map_or(rest.len(), |e| sep + e);
        // Punctuation that ends a sentence or a clause is not part of the URL.
        let end = start
            + rest[start..end]
                .trim_end_matches([':', ',', '.', ';', ')', ']'])
                .len();
        let end = end.max(sep + 3);
        out.push_str(&rest[..start]);
        let url = &rest[start..end];
        let r = redact_url(url);
        changed |= matches!(r, Cow::Owned(_));
        out.push_str(&r);
        rest = &rest[end..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_whole() {
        assert_eq!(
            redact_url("http://user:secret@h:6060/debug/pprof/goroutine"),
            "http://***@h:6060/debug/pprof/goroutine"
        );
        assert_eq!(redact_url("https://tok@h/"), "https://***@h/");
        // An `@` in the password itself: the last `@` of the authority ends the userinfo.
        assert_eq!(redact_url("http://u:p@ss@h"), "http://***@h");
        assert_eq!(redact_url("HTTPS://u:p@h?debug=2"), "HTTPS://***@h?debug=2");
    }

    #[test]
    fn secret_parameters_are_redacted_and_others_kept() {
        assert_eq!(
            redact_url("http://h/debug/pprof/goroutine?debug=2&access_token=abc&gc=1"),
            "http://h/debug/pprof/goroutine?debug=2&access_token=***&gc=1"
        );
        assert_eq!(
            redact_url("http://h/x?X-Amz-Signature=ff&X-Amz-Credential=AK%2F1&seconds=5"),
            "http://h/x?X-Amz-Signature=***&X-Amz-Credential=***&seconds=5"
        );
        assert_eq!(
            redact_url("http://h/x?Authorization=Bearer%20x&apiKey=1&key=2&password=3"),
            "http://h/x?Authorization=***&apiKey=***&key=***&password=***"
        );
        assert_eq!(
            redact_url("http://h/x#access_token=t"),
            "http://h/x#access_token=***"
        );
        // Nothing to hide: the very same string, not a copy.
        let plain = "http://127.0.0.1:6060/debug/pprof/goroutine?debug=2&seconds=5";
        assert!(matches!(redact_url(plain), Cow::Borrowed(p) if p == plain));
        assert!(matches!(redact_url("dump.txt"), Cow::Borrowed("dump.txt")));
        assert_eq!(redact_url("-"), "-");
        assert_eq!(redact_url("pid 12"), "pid 12");
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        assert_eq!(
            redact_urls_in(
                "http://u:pw@h/x: GET http://u:pw@h/x?debug=2&token=t: connection refused"
            ),
            "http://***@h/x: GET http://***@h/x?debug=2&token=***: connection refused"
        );
        assert_eq!(
            redact_urls_in("bad URL `https://a:b@h`"),
            "bad URL `https://***@h`"
        );
        assert_eq!(redact_urls_in("no url here"), "no url here");
        assert_eq!(redact_urls_in("://odd"), "://odd");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "://",
            "a://",
            "a://@",
            "a://@?&=#=&",
            "é://x@y",
            "x://ü:ß@h/ä?ö=1&token=é",
        ] {
            let r = redact_url(s);
            assert!(!r.contains("ß"), "{s} → {r}");
            let _ = redact_urls_in(s);
        }
    }
}
