//! Keeping secrets out of reports and messages: URL credentials and secret-looking query values.

/// Query parameter names whose values are hidden (compared case-insensitively, as substrings).
const SECRET_PARAMS: &[&str] = &[
    "token", "secret", "password", "passwd", "auth", "key", "sig", "session", "cred",
];

/// `url` with its userinfo replaced by `***` and the values of secret-looking query
/// parameters (`token`, `api_key`, `password`, …) by `***`. Anything that is not a URL is
/// returned with the same treatment applied to whatever looks like `user:pass@`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let authority = match authority.rfind('@') {
        Some(i) => format!("***@{}", &authority[i + 1..]),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, frag) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let q: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if is_secret(k) => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            let mut t = format!("{path}?{}", q.join("&"));
            if let Some(f) = frag {
                t.push('#');
                t.push_str(f);
            }
            t
        }
        None => tail.to_string(),
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| n.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_credentials_and_tokens() {
        assert_eq!(
            redact_url("http://127.0.0.1:6060/debug/pprof/goroutine?debug=2"),
            "http://127.0.0.1:6060/debug/pprof/goroutine?debug=2"
        );
        assert_eq!(
            redact_url("https://admin:s3cret@host:8443/debug/pprof/"),
            "https://***@host:8443/debug/pprof/"
        );
        assert_eq!(
            redact_url("http://h/debug/pprof/goroutine?debug=2&access_token=abc&API_KEY=x#f"),
            "http://h/debug/pprof/goroutine?debug=2&access_token=***&API_KEY=***#f"
        );
        // An @ in the path is not userinfo.
        assert_eq!(redact_url("http://h/a@b"), "http://h/a@b");
        assert_eq!(redact_url("u:p@h:1/x"), "***@h:1/x");
    }
}
