//! Keeping secrets out of reports and messages: the project's one URL redaction
//! ([`goroscope_model::redact_url`]), plus `user:password@` in text that is not a URL (a
//! `--target` typed without its scheme is echoed in the error that says so).

use goroscope_model::{redact_url, REDACTED};

/// `s` as reports and errors may show it: credentials and secret-looking query values of a URL
/// replaced by `***`; in anything else, whatever precedes an `@` before the first `/`.
pub fn shown(s: &str) -> String {
    if s.contains("://") {
        return redact_url(s).into_owned();
    }
    let authority_end = s.find(['/', '?', '#']).unwrap_or(s.len());
    match s[..authority_end].rfind('@') {
        Some(at) => format!("{REDACTED}{}", &s[at..]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_credentials_and_tokens() {
        assert_eq!(
            shown("http://127.0.0.1:6060/debug/pprof/goroutine?debug=2"),
            "http://127.0.0.1:6060/debug/pprof/goroutine?debug=2"
        );
        assert_eq!(
            shown("https://admin:s3cret@host:8443/debug/pprof/"),
            "https://***@host:8443/debug/pprof/"
        );
        let s = shown("http://h/debug/pprof/goroutine?debug=2&access_token=abc&API_KEY=x#f");
        assert!(!s.contains("abc") && !s.contains("=x"), "{s}");
        assert!(s.contains("debug=2"), "{s}");
        // An @ in the path is not userinfo.
        assert_eq!(shown("http://h/a@b"), "http://h/a@b");
        // Not a URL: still no password.
        assert_eq!(shown("u:p@h:1/x"), "***@h:1/x");
        assert_eq!(shown("localhost:6060"), "localhost:6060");
    }
}
