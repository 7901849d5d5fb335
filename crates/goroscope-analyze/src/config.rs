//! User configuration: goleak-style ignore rules and rule levels, read from TOML.
//!
//! ```toml
//! [ignore]
//! # a group is ignored when its innermost non-runtime frame… (goleak IgnoreTopFunction)
//! top_function = ["github.com/acme/cache.(*Cache).janitor"]
//! # …or any frame of its stack… (goleak IgnoreAnyFunction)
//! any_function = ["go.opencensus.io/stats/view.(*worker).start"]
//! # …or its `created by` function matches.
//! created_by = ["google.golang.org/grpc.newClientTransport*"]
//!
//! [rules]
//! # allow = silence, warn = report at most as suspect, deny = report suspects as leaks
//! ctx-ignored = "allow"
//! mutex-never-unlocked = "deny"
//! ```
//!
//! Patterns match a whole function name; a `*` matches any run of characters (so `net/http.*`
//! matches every function of `net/http`, and `*.readLoop` every `readLoop` method).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// How a rule's findings are reported (like rustc lint levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `-A rule`: findings are reported as `benign` (kept in the list, evidence says why).
    Allow,
    /// `-W rule`: findings are reported, but at most as `suspect` (never fail `--fail-on leak`).
    Warn,
    /// `-D rule`: `suspect` findings of the rule are promoted to `leak`.
    Deny,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "allow" | "A" => Level::Allow,
            "warn" | "W" => Level::Warn,
            "deny" | "D" => Level::Deny,
            _ => return None,
        })
    }
}

/// goleak-style ignore rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    /// Matches the top (innermost) frame outside the runtime, or the very top frame.
    #[serde(default)]
    pub top_function: Vec<String>,
    /// Matches any frame of the stack.
    #[serde(default)]
    pub any_function: Vec<String>,
    /// Matches the `created by` function.
    #[serde(default)]
    pub created_by: Vec<String>,
}

/// The user configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub ignore: Ignore,
    /// Rule id → level.
    #[serde(default)]
    pub rules: BTreeMap<String, Level>,
}

/// A configuration file that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, or `<config>` for a string.
    pub path: String,
    /// 1-based line and column of the problem, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.path, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.path, self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses a configuration; errors name `<config>` and the line.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Self::parse_named(text, "<config>")
    }

    /// Reads and parses a configuration file; errors name the file and the line.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: name.clone(),
            line: None,
            column: None,
            message: e.to_string(),
        })?;
        Self::parse_named(&text, &name)
    }

    fn parse_named(text: &str, name: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    (Some(line), Some(col))
                }
                None => (None, None),
            };
            ConfigError {
                path: name.to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        for id in cfg.rules.keys() {
            if !crate::rules::is_known(id) {
                let line = text
                    .lines()
                    .position(|l| l.contains(id.as_str()))
                    .map(|i| i + 1);
                return Err(ConfigError {
                    path: name.to_string(),
                    line,
                    column: None,
                    message: format!(
                        "unknown rule `{id}` (known: {})",
                        crate::rules::ids().join(", ")
                    ),
                });
            }
        }
        Ok(cfg)
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let Some(star) = pattern.find('*') else {
        return pattern == name;
    };
    let first = &pattern[..star];
    let last_star = pattern.rfind('*').unwrap_or(star);
    let last = &pattern[last_star + 1..];
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    if last_star > star {
        for p in pattern[star + 1..last_star].split('*') {
            match rest.find(p) {
                Some(i) => rest = &rest[i + p.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ignores_and_levels() {
        let c = Config::from_toml_str(
            "[ignore]\ntop_function = [\"a.b\"]\ncreated_by = [\"x.*\"]\n[rules]\nctx-ignored = \"allow\"\n",
        )
        .unwrap();
        assert_eq!(c.ignore.top_function, vec!["a.b"]);
        assert_eq!(c.rules["ctx-ignored"], Level::Allow);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = Config::from_toml_str("[ignore]\ntop_function = [\"a\"]\nbogus = 1\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("<config>:3:"), "{e}");
        let e = Config::from_toml_str("[rules]\nno-such-rule = \"warn\"\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("unknown rule"), "{e}");
        let e = Config::from_toml_str("[rules]\nnil-chan = \"loud\"\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = Config::load(Path::new("/nonexistent/goroscope.toml")).unwrap_err();
        assert!(
            e.to_string().starts_with("/nonexistent/goroscope.toml: "),
            "{e}"
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("net/http.*", "net/http.(*conn).serve"));
        assert!(glob_match("*.readLoop", "net/http.(*persistConn).readLoop"));
        assert!(glob_match("a*c*e", "abcde"));
        assert!(!glob_match("a*c*e", "abde"));
        assert!(glob_match("main.f", "main.f"));
        assert!(!glob_match("main.f", "main.f.func1"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
