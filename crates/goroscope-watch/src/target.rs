//! Targets: what is polled, under which name, with which labels and credentials.

use crate::config::{check_labels, ConfigError, Secret, TargetSection, WatchConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where a target's goroutines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `net/http/pprof` server. `base` is the goroutine endpoint without query (userinfo
    /// kept for the request, never shown).
    Http { base: String },
    /// A live process, read with attach (non-blocking).
    Pid(u32),
    /// A dump file, re-read at every poll.
    File(PathBuf),
}

/// One watched target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The stable key: the redacted URL, `pid:N` or the file path. Used as the `target` label,
    /// in the store, in `db:TARGET@TIME` and for `--shard`.
    pub key: String,
    pub source: Source,
    /// User labels (service, instance, env…), exported on every series of the target.
    pub labels: BTreeMap<String, String>,
    pub every: Duration,
    pub timeout: Duration,
    /// Forced cheap form (0 protobuf, 1 text counts); `None`: protobuf, falling back to 1.
    pub debug: Option<u8>,
    /// Extra request headers (Authorization…): values are secrets.
    pub headers: Vec<(String, Secret)>,
    /// Where it came from: `cli`, `config`, `file_sd:PATH`, `http_sd:URL`, `prometheus`.
    pub origin: String,
    /// Traced with eBPF (`pid` targets with `--trace` or `trace = true`).
    pub trace: bool,
}

/// A URL without its secrets (userinfo, credential-like parameters), for logs, labels, keys
/// and pages: goroscope's one redaction, `goroscope_model::redact_url`.
pub fn redact_url(url: &str) -> String {
    goroscope_model::redact_url(url).into_owned()
}

/// Free text (an error message quoting URLs) without the URLs' secrets.
pub fn redact_text(text: &str) -> String {
    goroscope_model::redact_urls_in(text).into_owned()
}

/// The goroutine endpoint of what a user typed: `host:port`, `http://host:port`,
/// `…/debug/pprof/`, or the endpoint itself (any query is dropped: the poller sets `debug`).
pub fn goroutine_base(input: &str) -> Result<String, String> {
    let with_scheme = if input.contains("://") {
        input.to_string()
    } else {
        format!("http://{input}")
    };
    let t =
        goroscope_ingest::url::goroutine_url(&with_scheme, &goroscope_ingest::Options::default())?;
    Ok(t.url.split('?').next().unwrap_or(&t.url).to_string())
}

impl Target {
    /// A target from a command-line argument: a URL, `pid:N`, or a file.
    pub fn from_arg(arg: &str, cfg: &WatchConfig) -> Result<Target, ConfigError> {
        let sec = if let Some(p) = arg.strip_prefix("pid:") {
            TargetSection {
                pid: Some(
                    p.parse()
                        .map_err(|_| ConfigError::new(arg, "expected pid:N with N a process id"))?,
                ),
                ..Default::default()
            }
        } else if arg.starts_with("http://") || arg.starts_with("https://") {
            TargetSection {
                url: Some(arg.to_string()),
                ..Default::default()
            }
        } else {
            TargetSection {
                file: Some(PathBuf::from(arg)),
                ..Default::default()
            }
        };
        let mut t = Target::from_section(&sec, cfg)?;
        t.origin = "cli".into();
        Ok(t)
    }

    /// A target from a `[[target]]` table (secrets read now, from env or file).
    pub fn from_section(sec: &TargetSection, cfg: &WatchConfig) -> Result<Target, ConfigError> {
        let every = sec.every.map_or(cfg.watch.every.0, |d| d.0);
        let timeout = sec.timeout.map_or(cfg.watch.timeout.0, |d| d.0);
        let (key, source) = if let Some(u) = &sec.url {
            let base = goroutine_base(u).map_err(|m| ConfigError::new(redact_url(u), m))?;
            (redact_url(&base), Source::Http { base })
        } else if let Some(p) = sec.pid {
            (format!("pid:{p}"), Source::Pid(p))
        } else if let Some(f) = &sec.file {
            let f = cfg.resolve(f);
            (f.display().to_string(), Source::File(f))
        } else {
            return Err(ConfigError::new(
                "target",
                "give exactly one of url, pid or file",
            ));
        };
        check_labels(&sec.labels).map_err(|m| ConfigError::new(&key, m))?;
        let mut headers = Vec::new();
        if let Some(f) = &sec.bearer_token_file {
            let tok = read_secret_file(&cfg.resolve(f)).map_err(|m| ConfigError::new(&key, m))?;
            headers.push(("Authorization".into(), Secret::new(format!("Bearer {tok}"))));
        }
        if let Some(v) = &sec.bearer_token_env {
            let tok = read_secret_env(v).map_err(|m| ConfigError::new(&key, m))?;
            headers.push(("Authorization".into(), Secret::new(format!("Bearer {tok}"))));
        }
        for (h, spec) in &sec.headers {
            let v = if let Some(var) = spec.strip_prefix("env:") {
                read_secret_env(var)
            } else if let Some(p) = spec.strip_prefix("file:") {
                read_secret_file(&cfg.resolve(std::path::Path::new(p)))
            } else {
                Err(format!("header `{h}`: give env:VAR or file:PATH"))
            }
            .map_err(|m| ConfigError::new(&key, m))?;
            headers.push((h.clone(), Secret::new(v)));
        }
        let trace = matches!(source, Source::Pid(_)) && sec.trace.unwrap_or(cfg.watch.trace);
        if sec.trace == Some(true) && !matches!(source, Source::Pid(_)) {
            return Err(ConfigError::new(
                &key,
                "trace = true needs a pid target: eBPF probes go into a process on this machine",
            ));
        }
        Ok(Target {
            key,
            source,
            labels: sec.labels.clone(),
            every,
            timeout,
            debug: sec.debug,
            headers,
            origin: "config".into(),
            trace,
        })
    }

    /// A short name for pages: the `service`/`job` label and `instance` when set, else the key.
    pub fn display_name(&self) -> String {
        let svc = self
            .labels
            .get("service")
            .or_else(|| self.labels.get("job"));
        match (svc, self.labels.get("instance")) {
            (Some(s), Some(i)) => format!("{s} {i}"),
            (Some(s), None) => format!("{s} {}", self.key),
            _ => self.key.clone(),
        }
    }
}

/// Reads a secret from a file (trailing newline trimmed); the error names the file, not the
/// content.
pub fn read_secret_file(p: &std::path::Path) -> Result<String, String> {
    let s = std::fs::read_to_string(p)
        .map_err(|e| format!("reading secret file {}: {e}", p.display()))?;
    let s = s.trim_end_matches(['\n', '\r']).to_string();
    if s.is_empty() {
        return Err(format!("secret file {} is empty", p.display()));
    }
    Ok(s)
}

/// Reads a secret from an environment variable.
pub fn read_secret_env(var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("environment variable {var} is not set (or empty)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("http://user:pw@h:1/debug/pprof/goroutine?token=abc&debug=0"),
            "http://***@h:1/debug/pprof/goroutine?token=***&debug=0"
        );
        assert_eq!(redact_url("http://h:1/x"), "http://h:1/x");
    }

    #[test]
    fn bases_are_completed() {
        assert_eq!(
            goroutine_base("127.0.0.1:6060").unwrap(),
            "http://127.0.0.1:6060/debug/pprof/goroutine"
        );
        assert_eq!(
            goroutine_base("http://h/debug/pprof/?x=1").unwrap(),
            "http://h/debug/pprof/goroutine"
        );
    }

    #[test]
    fn targets_from_args() {
        let cfg = WatchConfig::default();
        let t = Target::from_arg("http://u:p@h:6060", &cfg).unwrap();
        assert_eq!(t.key, "http://***@h:6060/debug/pprof/goroutine");
        assert_eq!(
            t.source,
            Source::Http {
                base: "http://u:p@h:6060/debug/pprof/goroutine".into()
            }
        );
        assert_eq!(
            Target::from_arg("pid:42", &cfg).unwrap().source,
            Source::Pid(42)
        );
        assert!(Target::from_arg("pid:x", &cfg).is_err());
        assert!(!Target::from_arg("pid:42", &cfg).unwrap().trace);
        let traced = WatchConfig {
            watch: crate::config::WatchSection {
                trace: true,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(Target::from_arg("pid:42", &traced).unwrap().trace);
        assert!(
            !Target::from_arg("http://h:1", &traced).unwrap().trace,
            "--trace is for pid targets; URLs are polled as before"
        );
        let sec = TargetSection {
            url: Some("http://h:1".into()),
            trace: Some(true),
            ..Default::default()
        };
        let e = Target::from_section(&sec, &cfg).unwrap_err();
        assert!(e.message.contains("needs a pid target"), "{e}");
        let sec = TargetSection {
            pid: Some(7),
            trace: Some(false),
            ..Default::default()
        };
        assert!(!Target::from_section(&sec, &traced).unwrap().trace);
    }

    #[test]
    fn secrets_from_env_and_files_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tok");
        std::fs::write(&f, "s3cr3t\n").unwrap();
        let sec = TargetSection {
            url: Some("http://h:1".into()),
            bearer_token_file: Some(f),
            ..Default::default()
        };
        let t = Target::from_section(&sec, &WatchConfig::default()).unwrap();
        assert_eq!(t.headers[0].1.expose(), "Bearer s3cr3t");
        assert!(!format!("{t:?}").contains("s3cr3t"));
        let sec = TargetSection {
            url: Some("http://h:1".into()),
            bearer_token_env: Some("GOROSCOPE_TEST_UNSET_VAR".into()),
            ..Default::default()
        };
        let e = Target::from_section(&sec, &WatchConfig::default()).unwrap_err();
        assert!(e.message.contains("GOROSCOPE_TEST_UNSET_VAR"), "{e}");
    }
}
