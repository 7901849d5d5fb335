//! The watch configuration: what the command line and `goroscope.toml` say.
//!
//! Every field has a default, so `goroscope watch URL` needs no file. A config file is TOML; its
//! errors name the file, the line and the column. Secrets (bearer tokens, header values) are
//! never in the file itself: they are read from an environment variable or a file, and never
//! printed ([`Secret`]'s `Debug` says `<redacted>`).
//!
//! ```toml
//! [watch]
//! every = "15s"            # poll interval (per target override: every = "…")
//! listen = "127.0.0.1:9184" # dashboard, JSON API and /metrics (loopback by default)
//! db = "goroscope.db"
//! shard = "0/1"            # this watcher takes the targets whose hash % 1 == 0
//!
//! [[target]]
//! url = "http://10.0.0.7:6060/debug/pprof/goroutine"
//! labels = { service = "orders", env = "prod" }
//! bearer_token_file = "/run/secrets/pprof-token"
//!
//! [[file_sd]]
//! path = "targets/*.json"   # Prometheus file-SD format (JSON or YAML), re-read on change
//!
//! [[budget]]
//! name = "orders-total"
//! kind = "total"
//! labels = { service = "orders" }
//! warn = 5000
//! critical = 10000
//! for = "2m"
//!
//! [[sink]]
//! kind = "alertmanager"
//! url = "http://127.0.0.1:9093"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A value that must never be printed or logged: a bearer token, a header value.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A config problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct ConfigError {
    /// `FILE:LINE:COL`, `FILE`, `--flag`, or `target URL`.
    pub place: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(place: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            place: place.into(),
            message: message.into(),
        }
    }
}

/// A duration in the config file: `"15s"`, `"5m"`, `"1h30m"`, `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `15s`, `5m`, `1h`, `250ms`, `1h30m`, `7d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration like 15s, 5m, 1h ({e})"))?;
    Ok(d)
}

/// A byte size: `"64MB"`, `"1GiB"`, `"500kB"` or a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Bytes(n)),
            Raw::S(s) => parse_bytes(&s).map(Bytes).map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `64MB`, `1GiB`, `500kB`, `123`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 64MB or 1GiB"))?;
    let m: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        u => {
            return Err(format!(
                "`{s}`: unknown unit `{u}` (use kB, MB, GB, KiB, MiB, GiB)"
            ))
        }
    };
    n.checked_mul(m)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// `--shard i/n`: this watcher polls the targets whose key hashes to `i` modulo `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected i/n, e.g. 0/3"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: `{i}` is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: `{n}` is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("`{s}`: need 0 <= i < n"));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard owns the target `key` (FNV-1a 64 of the key, stable across
    /// releases and machines).
    pub fn owns(&self, key: &str) -> bool {
        self.count <= 1 || (fnv1a(key.as_bytes()) % u64::from(self.count)) == u64::from(self.index)
    }
}

impl<'de> Deserialize<'de> for Shard {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Shard::parse(&s).map_err(serde::de::Error::custom)
    }
}

pub(crate) fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The `[watch]` table and its command-line counterparts.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WatchSection {
    /// Poll interval.
    pub every: Dur,
    /// Whole-request budget of one poll.
    pub timeout: Dur,
    /// Dashboard, JSON API and `/metrics`. Loopback by default.
    pub listen: String,
    /// SQLite history file.
    pub db: PathBuf,
    pub shard: Shard,
    /// Polls in flight at once, over all targets.
    pub concurrency: usize,
    /// Largest answer read from a target (cheap forms); `debug=2` answers may be 4× this.
    pub max_body: Bytes,
    /// Longest wait between retries of a failing target (backoff doubles up to this).
    pub max_backoff: Dur,
    /// Groups per target exported in `/metrics` (the rest are summed as `other`).
    pub top_groups: usize,
    /// Creation sites per traced target exported in `/metrics` (the rest are summed as
    /// `other`).
    pub top_sites: usize,
    /// Trace every `pid` target with eBPF (`--trace`): births and deaths per creation site.
    pub trace: bool,
    /// Print alerts and events as JSON lines on stdout.
    pub stdout_alerts: bool,
    /// Allow `listen` on a non-loopback address.
    pub allow_remote: bool,
}

impl Default for WatchSection {
    fn default() -> Self {
        WatchSection {
            every: Dur(Duration::from_secs(15)),
            timeout: Dur(Duration::from_secs(10)),
            listen: "127.0.0.1:9184".into(),
            db: PathBuf::from("goroscope.db"),
            shard: Shard::default(),
            concurrency: 32,
            max_body: Bytes(32 << 20),
            max_backoff: Dur(Duration::from_secs(300)),
            top_groups: 10,
            top_sites: 10,
            trace: false,
            stdout_alerts: true,
            allow_remote: false,
        }
    }
}

/// Growth detection (`[detect]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectSection {
    /// The sliding window the per-group trend is computed over.
    pub window: Dur,
    /// Fewest points in the window before a group can be called leaking.
    pub min_points: usize,
    /// Least growth over the window (goroutines) to call a group leaking.
    pub min_growth: u64,
    /// One-sided significance of the Mann–Kendall test.
    pub alpha: f64,
    /// After a restart or deploy, growth in this long is warm-up, never a leak.
    pub warmup: Dur,
    /// A drop of the total to at most this fraction of the previous poll (with a previous total
    /// of 20 or more) is read as a restart.
    pub restart_drop: f64,
    /// Also judge growth of groups the analysis calls benign (idle connections, runtime
    /// workers). Off: their growth is shown but never alerts.
    pub include_benign: bool,
    /// Ask for `debug=2` when a group starts growing or a budget is breached, at most this often
    /// per target, and never above `debug2_max_goroutines`.
    pub debug2_every: Dur,
    pub debug2_max_goroutines: u64,
    /// Ask for the goroutineleak proof (Go ≥ 1.26) on a leaking group, at most this often per
    /// target. Off unless set: the leak GC is costly on the target.
    pub prove_every: Option<Dur>,
}

impl Default for DetectSection {
    fn default() -> Self {
        DetectSection {
            window: Dur(Duration::from_secs(30 * 60)),
            min_points: 5,
            min_growth: 5,
            alpha: 0.01,
            warmup: Dur(Duration::from_secs(120)),
            restart_drop: 0.5,
            include_benign: false,
            debug2_every: Dur(Duration::from_secs(600)),
            debug2_max_goroutines: 10_000,
            prove_every: None,
        }
    }
}

/// History retention (`[retention]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    /// Points kept at full resolution this long…
    pub raw: Dur,
    /// …then one point per `step` (the maximum of each group over the step) until `max_age`.
    pub step: Dur,
    pub max_age: Dur,
    /// When the file grows past this, the oldest history is dropped.
    pub max_size: Bytes,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            raw: Dur(Duration::from_secs(7 * 86400)),
            step: Dur(Duration::from_secs(300)),
            max_age: Dur(Duration::from_secs(90 * 86400)),
            max_size: Bytes(2 << 30),
        }
    }
}

/// One `[[target]]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// An `http(s)://` pprof URL (host:port, `/debug/pprof/`, or the goroutine endpoint).
    pub url: Option<String>,
    /// A process id, read with attach (non-blocking).
    pub pid: Option<u32>,
    /// A dump file re-read at every poll.
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub every: Option<Dur>,
    pub timeout: Option<Dur>,
    /// Force the cheap form: 0 (protobuf) or 1 (text counts).
    pub debug: Option<u8>,
    pub bearer_token_file: Option<PathBuf>,
    pub bearer_token_env: Option<String>,
    /// Header name → `env:VAR` or `file:PATH` (never the value itself).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `pid` targets: follow every goroutine's birth and death with goroscope's eBPF tracer
    /// (births, deaths and live goroutines per creation site). Default: `[watch] trace`.
    pub trace: Option<bool>,
}

/// One `[[file_sd]]`: Prometheus file-based discovery.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSdSection {
    /// A file or a glob of files (`*` in the last component).
    pub path: PathBuf,
    #[serde(default)]
    pub refresh: Option<Dur>,
    #[serde(default)]
    pub relabel: Option<Relabel>,
}

/// One `[[http_sd]]`: Prometheus HTTP discovery.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSdSection {
    pub url: String,
    #[serde(default)]
    pub refresh: Option<Dur>,
    #[serde(default)]
    pub relabel: Option<Relabel>,
}

/// `[from_prometheus]`: the targets a Prometheus server scrapes (`/api/v1/targets`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FromPrometheusSection {
    pub url: String,
    #[serde(default)]
    pub refresh: Option<Dur>,
    /// Only targets of these jobs (all when empty).
    #[serde(default)]
    pub jobs: Vec<String>,
    #[serde(default)]
    pub relabel: Option<Relabel>,
}

/// How a discovered address becomes a pprof URL: `regex` (anchored) is matched against the
/// address (`host:port`); `replacement` may use `$1`…; the result is completed like a URL on
/// the command line (`host:port` → `http://host:port/debug/pprof/goroutine`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Relabel {
    #[serde(default = "default_regex")]
    pub regex: String,
    #[serde(default = "default_replacement")]
    pub replacement: String,
}

fn default_regex() -> String {
    "(.*)".into()
}
fn default_replacement() -> String {
    "$1".into()
}

impl Default for Relabel {
    fn default() -> Self {
        Relabel {
            regex: default_regex(),
            replacement: default_replacement(),
        }
    }
}

/// What a budget limits.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetKind {
    /// The process's total goroutines.
    Total,
    /// Each group (`match`: a group id, or `*` for every group).
    Group,
    /// Goroutines per creation site (`created by` function matching the glob `match`).
    Site,
    /// Goroutines whose stack has a function matching the glob `match`, summed.
    Function,
    /// Goroutines per value of the pprof label `match` (e.g. `guard.site`).
    Label,
}

impl BudgetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetKind::Total => "total",
            BudgetKind::Group => "group",
            BudgetKind::Site => "site",
            BudgetKind::Function => "function",
            BudgetKind::Label => "label",
        }
    }
}

/// One `[[budget]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    pub name: String,
    pub kind: BudgetKind,
    #[serde(default = "star", rename = "match")]
    pub matches: String,
    /// Glob on the target key (default: every target).
    #[serde(default = "star")]
    pub targets: String,
    /// Target labels that must all match (values are globs).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub warn: Option<u64>,
    pub critical: Option<u64>,
    /// How long the value must stay at or over a level before it fires.
    #[serde(default, rename = "for")]
    pub for_: Option<Dur>,
    /// A firing level clears only below `level × (1 − hysteresis)`.
    #[serde(default = "default_hysteresis")]
    pub hysteresis: f64,
}

fn star() -> String {
    "*".into()
}
fn default_hysteresis() -> f64 {
    0.1
}

/// Where alerts go.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SinkKind {
    /// Alertmanager's v2 API: `POST {url}/api/v2/alerts`.
    Alertmanager,
    /// Every alert and event as one JSON object, `POST {url}`.
    Webhook,
}

/// One `[[sink]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SinkSection {
    pub kind: SinkKind,
    pub url: String,
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// `[analysis]`: passed to goroscope-analyze for every poll.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisSection {
    /// A goroscope analysis config (ignore rules, rule levels).
    pub config: Option<PathBuf>,
    /// Read the Go sources the dumps name under these directories (off by default: polled
    /// services usually run elsewhere).
    pub source: Vec<PathBuf>,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    pub watch: WatchSection,
    pub detect: DetectSection,
    pub retention: RetentionSection,
    pub analysis: AnalysisSection,
    #[serde(rename = "target")]
    pub targets: Vec<TargetSection>,
    pub file_sd: Vec<FileSdSection>,
    pub http_sd: Vec<HttpSdSection>,
    pub from_prometheus: Option<FromPrometheusSection>,
    #[serde(rename = "budget")]
    pub budgets: Vec<BudgetSection>,
    #[serde(rename = "sink")]
    pub sinks: Vec<SinkSection>,
    /// The file it was read from (for relative paths and error messages).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// Label names the watcher sets itself on its series; target labels may not use them.
pub const RESERVED_LABELS: &[&str] = &[
    "target", "state", "group", "site", "function", "verdict", "budget", "key", "severity",
    "reason", "form", "kind", "le", "quantile",
];

impl WatchConfig {
    /// Parses a config; errors name `name`, the line and the column.
    pub fn from_toml(text: &str, name: &str) -> Result<WatchConfig, ConfigError> {
        let cfg: WatchConfig = toml::from_str(text).map_err(|e| {
            let place = match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("{name}:{line}:{col}")
                }
                None => name.to_string(),
            };
            ConfigError::new(place, e.message().to_string())
        })?;
        cfg.validate(name)?;
        Ok(cfg)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<WatchConfig, ConfigError> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::new(&name, e.to_string()))?;
        let mut cfg = Self::from_toml(&text, &name)?;
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Checks what serde cannot: one source per target, label names, budget levels, the listen
    /// address.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        for (i, t) in self.targets.iter().enumerate() {
            let place = format!("{name}: target #{}", i + 1);
            let n = usize::from(t.url.is_some())
                + usize::from(t.pid.is_some())
                + usize::from(t.file.is_some());
            if n != 1 {
                return Err(ConfigError::new(
                    place,
                    "give exactly one of url, pid or file",
                ));
            }
            check_labels(&t.labels).map_err(|m| ConfigError::new(&place, m))?;
            if t.trace == Some(true) && t.pid.is_none() {
                return Err(ConfigError::new(
                    place,
                    "trace = true needs a pid target: eBPF probes go into a process on this machine",
                ));
            }
            if let Some(d) = t.debug {
                if d > 1 {
                    return Err(ConfigError::new(
                        place,
                        "debug must be 0 (protobuf) or 1 (text counts); debug=2 is asked for on demand only",
                    ));
                }
            }
            for (h, v) in &t.headers {
                if !(v.starts_with("env:") || v.starts_with("file:")) {
                    return Err(ConfigError::new(
                        place,
                        format!(
                            "header `{h}`: give `env:VAR` or `file:PATH`, never the value itself"
                        ),
                    ));
                }
            }
        }
        for b in &self.budgets {
            let place = format!("{name}: budget `{}`", b.name);
            if b.warn.is_none() && b.critical.is_none() {
                return Err(ConfigError::new(place, "give warn, critical or both"));
            }
            if let (Some(w), Some(c)) = (b.warn, b.critical) {
                if w > c {
                    return Err(ConfigError::new(place, "warn is above critical"));
                }
            }
            if !(0.0..1.0).contains(&b.hysteresis) {
                return Err(ConfigError::new(place, "hysteresis must be in [0, 1)"));
            }
            if b.kind == BudgetKind::Label && b.matches == "*" {
                return Err(ConfigError::new(
                    place,
                    "a label budget names the label in `match` (e.g. match = \"tenant\")",
                ));
            }
        }
        let d = &self.detect;
        if !(d.alpha > 0.0 && d.alpha < 0.5) {
            return Err(ConfigError::new(
                format!("{name}: [detect]"),
                "alpha must be in (0, 0.5)",
            ));
        }
        if d.min_points < 4 {
            return Err(ConfigError::new(
                format!("{name}: [detect]"),
                "min_points must be at least 4 (the trend test cannot be significant with fewer)",
            ));
        }
        if self.watch.concurrency == 0 {
            return Err(ConfigError::new(
                format!("{name}: [watch]"),
                "concurrency must be at least 1",
            ));
        }
        self.listen_addr()?;
        Ok(())
    }

    /// The listen address, refusing a non-loopback one unless `allow_remote`.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let a: SocketAddr = self.watch.listen.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!(
                    "`{}` is not an address like 127.0.0.1:9184",
                    self.watch.listen
                ),
            )
        })?;
        if !a.ip().is_loopback() && !self.watch.allow_remote {
            return Err(ConfigError::new(
                "listen",
                format!("{a} is not a loopback address; the dashboard and /metrics are read-only but show every target: pass --allow-remote (or allow_remote = true) to serve them on the network"),
            ));
        }
        Ok(a)
    }

    /// A path in the config, relative to the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        match (&self.path, p.is_relative()) {
            (Some(cfg), true) => cfg.parent().unwrap_or(Path::new(".")).join(p),
            _ => p.to_path_buf(),
        }
    }
}

/// Label names: Prometheus's rule (`[a-zA-Z_][a-zA-Z0-9_]*`), not reserved, not `__…`.
pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    for k in labels.keys() {
        if !valid_label_name(k) {
            return Err(format!(
                "label name `{k}` is not valid (letters, digits and _; not starting with a digit)"
            ));
        }
        if k.starts_with("__") {
            return Err(format!(
                "label name `{k}`: names starting with __ are reserved"
            ));
        }
        if RESERVED_LABELS.contains(&k.as_str()) {
            return Err(format!(
                "label name `{k}` is set by the watcher itself (reserved: {})",
                RESERVED_LABELS.join(", ")
            ));
        }
    }
    Ok(())
}

pub fn valid_label_name(k: &str) -> bool {
    let mut c = k.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Matches `pat` against `s`, where `*` matches any run of characters.
pub fn glob(pat: &str, s: &str) -> bool {
    let (p, t) = (pat.as_bytes(), s.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("goroscope.example.toml");
        let cfg = WatchConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!cfg.targets.is_empty());
        assert!(!cfg.budgets.is_empty());
        assert_eq!(cfg.watch.every.0, Duration::from_secs(15));
    }

    #[test]
    fn errors_name_the_line() {
        let e = WatchConfig::from_toml("[watch]\nevery = \"soon\"\n", "g.toml").unwrap_err();
        assert!(e.place.starts_with("g.toml:2:"), "{e}");
        assert!(e.message.contains("soon"), "{e}");
        let e = WatchConfig::from_toml("[watch]\nbogus = 1\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = WatchConfig::from_toml(
            "[[target]]\nurl = \"http://h\"\nheaders = { Authorization = \"Bearer abc\" }\n",
            "g.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("never the value"), "{e}");
        assert!(!e.to_string().contains("abc"), "{e}");
        let e = WatchConfig::from_toml("[[target]]\nurl = \"http://h\"\ntrace = true\n", "g.toml")
            .unwrap_err();
        assert!(e.message.contains("needs a pid target"), "{e}");
        let c = WatchConfig::from_toml("[watch]\ntrace = true\n[[target]]\npid = 9\n", "g.toml")
            .unwrap();
        assert!(c.watch.trace);
        let e = WatchConfig::from_toml(
            "[[target]]\nurl = \"http://h\"\nlabels = { target = \"x\" }\n",
            "g.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("reserved"), "{e}");
        let e =
            WatchConfig::from_toml("[watch]\nlisten = \"0.0.0.0:9184\"\n", "g.toml").unwrap_err();
        assert!(e.message.contains("--allow-remote"), "{e}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
    }

    #[test]
    fn shards_partition() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        let mut per = [0usize; 3];
        for k in 0..3000 {
            let key = format!("http://10.0.{}.{}:6060", k / 256, k % 256);
            let owners: Vec<usize> = (0..3).filter(|&i| shards[i].owns(&key)).collect();
            assert_eq!(owners.len(), 1, "{key}");
            per[owners[0]] += 1;
        }
        assert!(per.iter().all(|&n| n > 800), "{per:?}");
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("x").is_err());
        assert_eq!(Shard::parse("1/4").unwrap(), Shard { index: 1, count: 4 });
    }

    #[test]
    fn globs_and_sizes() {
        assert!(glob("main.*", "main.worker"));
        assert!(glob("*", ""));
        assert!(glob("*.readLoop", "net/http.(*persistConn).readLoop"));
        assert!(!glob("main.*", "net.x"));
        assert_eq!(parse_bytes("64MB").unwrap(), 64_000_000);
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert!(parse_bytes("12 parsecs").is_err());
    }
}

#[cfg(test)]
mod readme_tests {
    use super::*;

    /// The README's short config is a real config.
    #[test]
    fn readme_config_parses() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
                .unwrap();
        let at = readme
            .find("A short one:")
            .expect("the README's config example");
        let block = readme[at..].split("```toml\n").nth(1).unwrap();
        let block = block.split("```").next().unwrap();
        let cfg = WatchConfig::from_toml(block, "README.md").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.budgets[0].critical, Some(10_000));
        assert_eq!(cfg.sinks.len(), 1);
    }
}
