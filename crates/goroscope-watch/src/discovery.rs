//! Discovery from what users already run: Prometheus file-SD files (JSON or YAML, re-read when
//! they change), HTTP-SD endpoints, and the active targets of a Prometheus server
//! (`/api/v1/targets`), each address turned into a pprof URL by a relabel rule.
//!
//! A source that fails keeps its last good targets (as Prometheus does) and the error is
//! logged; an answer or file larger than [`MAX_SD_BYTES`] or with more than [`MAX_SD_TARGETS`]
//! targets is refused.

use crate::config::{valid_label_name, Relabel, WatchConfig, RESERVED_LABELS};
use crate::target::{goroutine_base, redact_url, Source, Target};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub const MAX_SD_BYTES: u64 = 16 << 20;
pub const MAX_SD_TARGETS: usize = 100_000;

/// One target group of the Prometheus SD format.
#[derive(Debug, Deserialize)]
struct SdGroup {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A compiled relabel rule.
#[derive(Debug, Clone)]
pub struct Rule {
    re: regex::Regex,
    replacement: String,
}

impl Rule {
    pub fn new(r: &Relabel) -> Result<Rule, String> {
        let re = regex::Regex::new(&format!("^(?:{})$", r.regex))
            .map_err(|e| format!("relabel regex `{}`: {e}", r.regex))?;
        Ok(Rule {
            re,
            replacement: r.replacement.clone(),
        })
    }

    /// The pprof URL for an address, or `None` when the regex does not match (the target is
    /// dropped, like Prometheus's `keep`).
    pub fn apply(&self, address: &str) -> Option<String> {
        let caps = self.re.captures(address)?;
        let mut out = String::new();
        caps.expand(&self.replacement, &mut out);
        Some(out)
    }
}

/// Turns SD labels into target labels: `__…` dropped, reserved names prefixed with
/// `exported_` (Prometheus's convention), invalid names dropped.
pub fn clean_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| !k.starts_with("__"))
        .filter_map(|(k, v)| {
            let k = if RESERVED_LABELS.contains(&k.as_str()) {
                format!("exported_{k}")
            } else {
                k.clone()
            };
            valid_label_name(&k).then_some((k, v.clone()))
        })
        .collect()
}

fn make_target(
    address: &str,
    labels: BTreeMap<String, String>,
    rule: &Rule,
    cfg: &WatchConfig,
    origin: &str,
) -> Option<Target> {
    let url = rule.apply(address)?;
    let base = match goroutine_base(&url) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("{origin}: target {}: {e}", redact_url(&url));
            return None;
        }
    };
    let mut labels = clean_labels(&labels);
    labels
        .entry("instance".into())
        .or_insert_with(|| address.to_string());
    Some(Target {
        key: redact_url(&base),
        source: Source::Http { base },
        labels,
        every: cfg.watch.every.0,
        timeout: cfg.watch.timeout.0,
        debug: None,
        headers: Vec::new(),
        origin: origin.to_string(),
        trace: false,
    })
}

/// Parses the Prometheus SD format (JSON, or YAML for `.yml`/`.yaml` files).
pub fn parse_sd(
    text: &str,
    yaml: bool,
    rule: &Rule,
    cfg: &WatchConfig,
    origin: &str,
) -> Result<Vec<Target>, String> {
    let groups: Vec<SdGroup> = if yaml {
        serde_yaml::from_str(text).map_err(|e| match e.location() {
            Some(l) => format!("line {}, column {}: {e}", l.line(), l.column()),
            None => e.to_string(),
        })?
    } else {
        serde_json::from_str(text)
            .map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?
    };
    let mut out = Vec::new();
    for g in groups {
        for a in &g.targets {
            if out.len() >= MAX_SD_TARGETS {
                return Err(format!("more than {MAX_SD_TARGETS} targets"));
            }
            if let Some(t) = make_target(a, g.labels.clone(), rule, cfg, origin) {
                out.push(t);
            }
        }
    }
    Ok(out)
}

/// The files a file-SD path names (a glob in the last component).
pub fn sd_files(path: &Path) -> Vec<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains('*') {
        return vec![path.to_path_buf()];
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| crate::config::glob(&name, &n.to_string_lossy()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The state of one file-SD source: re-read when a file's mtime or size changes.
#[derive(Debug)]
pub struct FileSd {
    pub path: PathBuf,
    rule: Rule,
    seen: BTreeMap<PathBuf, (SystemTime, u64)>,
    targets: BTreeMap<PathBuf, Vec<Target>>,
}

impl FileSd {
    pub fn new(path: PathBuf, relabel: Option<&Relabel>) -> Result<FileSd, String> {
        Ok(FileSd {
            path,
            rule: Rule::new(&relabel.cloned().unwrap_or_default())?,
            seen: BTreeMap::new(),
            targets: BTreeMap::new(),
        })
    }

    /// Re-reads what changed; returns whether anything did, and the errors.
    pub fn refresh(&mut self, cfg: &WatchConfig) -> (bool, Vec<String>) {
        let mut changed = false;
        let mut errors = Vec::new();
        let files = sd_files(&self.path);
        let before = self.targets.len();
        self.targets.retain(|p, _| files.contains(p));
        self.seen.retain(|p, _| files.contains(p));
        changed |= before != self.targets.len();
        for f in files {
            let Ok(md) = std::fs::metadata(&f) else {
                if self.targets.remove(&f).is_some() {
                    changed = true;
                }
                continue;
            };
            let stamp = (md.modified().unwrap_or(SystemTime::UNIX_EPOCH), md.len());
            if self.seen.get(&f) == Some(&stamp) {
                continue;
            }
            self.seen.insert(f.clone(), stamp);
            let origin = format!("file_sd:{}", f.display());
            let read = || -> Result<Vec<Target>, String> {
                if md.len() > MAX_SD_BYTES {
                    return Err(format!("larger than {MAX_SD_BYTES} bytes"));
                }
                let text = std::fs::read_to_string(&f).map_err(|e| e.to_string())?;
                let yaml = f.extension().is_some_and(|e| e == "yml" || e == "yaml");
                parse_sd(&text, yaml, &self.rule, cfg, &origin)
            };
            match read() {
                Ok(t) => {
                    self.targets.insert(f.clone(), t);
                    changed = true;
                }
                Err(e) => errors.push(format!(
                    "{}: {e} (keeping its last good targets)",
                    f.display()
                )),
            }
        }
        (changed, errors)
    }

    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.targets.values().flatten()
    }
}

fn get_json(url: &str, timeout: Duration) -> Result<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(3)
        .build()
        .into();
    let resp = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| crate::target::redact_text(&e.to_string()))?;
    if resp.status() != 200 {
        return Err(format!("HTTP {}", resp.status()));
    }
    let mut body = String::new();
    resp.into_body()
        .into_reader()
        .take(MAX_SD_BYTES + 1)
        .read_to_string(&mut body)
        .map_err(|e| e.to_string())?;
    if body.len() as u64 > MAX_SD_BYTES {
        return Err(format!("the answer is larger than {MAX_SD_BYTES} bytes"));
    }
    Ok(body)
}

/// Fetches an HTTP-SD endpoint.
pub fn http_sd(
    url: &str,
    relabel: Option<&Relabel>,
    cfg: &WatchConfig,
) -> Result<Vec<Target>, String> {
    let rule = Rule::new(&relabel.cloned().unwrap_or_default())?;
    let body = get_json(url, Duration::from_secs(30))?;
    parse_sd(
        &body,
        false,
        &rule,
        cfg,
        &format!("http_sd:{}", redact_url(url)),
    )
}

#[derive(Debug, Deserialize)]
struct PromTargets {
    status: String,
    #[serde(default)]
    data: Option<PromData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PromData {
    #[serde(rename = "activeTargets", default)]
    active: Vec<PromTarget>,
}

#[derive(Debug, Deserialize)]
struct PromTarget {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(rename = "scrapeUrl", default)]
    scrape_url: String,
    #[serde(rename = "scrapePool", default)]
    scrape_pool: String,
}

/// The address (`host:port`) of a scrape URL.
fn address_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let a = &rest[..end];
    Some(a.rsplit_once('@').map_or(a, |(_, h)| h))
}

/// Parses `/api/v1/targets`.
pub fn parse_prometheus(
    body: &str,
    jobs: &[String],
    rule: &Rule,
    cfg: &WatchConfig,
) -> Result<Vec<Target>, String> {
    let p: PromTargets = serde_json::from_str(body).map_err(|e| {
        format!(
            "not a /api/v1/targets answer: line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    if p.status != "success" {
        return Err(format!(
            "status {}: {}",
            p.status,
            p.error.unwrap_or_default()
        ));
    }
    let mut out = Vec::new();
    for t in p.data.map(|d| d.active).unwrap_or_default() {
        let job = t
            .labels
            .get("job")
            .cloned()
            .unwrap_or(t.scrape_pool.clone());
        if !jobs.is_empty() && !jobs.contains(&job) {
            continue;
        }
        let Some(addr) = address_of(&t.scrape_url).or(t.labels.get("instance").map(String::as_str))
        else {
            continue;
        };
        if out.len() >= MAX_SD_TARGETS {
            return Err(format!("more than {MAX_SD_TARGETS} targets"));
        }
        if let Some(x) = make_target(addr, t.labels.clone(), rule, cfg, "prometheus") {
            out.push(x);
        }
    }
    Ok(out)
}

/// Asks a Prometheus server for the targets it scrapes.
pub fn from_prometheus(
    url: &str,
    jobs: &[String],
    relabel: Option<&Relabel>,
    cfg: &WatchConfig,
) -> Result<Vec<Target>, String> {
    let rule = Rule::new(&relabel.cloned().unwrap_or_default())?;
    let base = url.trim_end_matches('/');
    let body = get_json(
        &format!("{base}/api/v1/targets?state=active"),
        Duration::from_secs(30),
    )?;
    parse_prometheus(&body, jobs, &rule, cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_json_and_yaml() {
        let cfg = WatchConfig::default();
        let rule = Rule::new(&Relabel {
            regex: "(.*):9090".into(),
            replacement: "$1:6060".into(),
        })
        .unwrap();
        let json = r#"[{"targets": ["10.0.0.1:9090", "10.0.0.2:8080"], "labels": {"service": "orders", "__meta_x": "y", "group": "g"}}]"#;
        let t = parse_sd(json, false, &rule, &cfg, "t").unwrap();
        assert_eq!(t.len(), 1, "the second address does not match the rule");
        assert_eq!(t[0].key, "http://10.0.0.1:6060/debug/pprof/goroutine");
        assert_eq!(t[0].labels["service"], "orders");
        assert_eq!(t[0].labels["exported_group"], "g");
        assert_eq!(t[0].labels["instance"], "10.0.0.1:9090");
        assert!(!t[0].labels.contains_key("__meta_x"));
        let yaml = "- targets: ['h:1']\n  labels:\n    env: prod\n";
        let t = parse_sd(
            yaml,
            true,
            &Rule::new(&Relabel::default()).unwrap(),
            &cfg,
            "t",
        )
        .unwrap();
        assert_eq!(t[0].labels["env"], "prod");
        let e = parse_sd("[{\"targets\": 5}]", false, &rule, &cfg, "t").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        let e = parse_sd("- targets: [\n", true, &rule, &cfg, "t").unwrap_err();
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn prometheus_targets() {
        let cfg = WatchConfig::default();
        let body = r#"{"status":"success","data":{"activeTargets":[
          {"labels":{"instance":"127.0.0.1:7001","job":"api"},"scrapeUrl":"http://127.0.0.1:7001/metrics","scrapePool":"api"},
          {"labels":{"instance":"127.0.0.1:9090","job":"prometheus"},"scrapeUrl":"http://127.0.0.1:9090/metrics","scrapePool":"prometheus"}]}}"#;
        let t = parse_prometheus(
            body,
            &["api".into()],
            &Rule::new(&Relabel::default()).unwrap(),
            &cfg,
        )
        .unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].key, "http://127.0.0.1:7001/debug/pprof/goroutine");
        assert_eq!(t[0].labels["job"], "api");
        assert!(parse_prometheus(
            "<html>",
            &[],
            &Rule::new(&Relabel::default()).unwrap(),
            &cfg
        )
        .is_err());
    }

    #[test]
    fn file_sd_rereads_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = WatchConfig::default();
        let mut sd = FileSd::new(dir.path().join("*.json"), None).unwrap();
        assert!(!sd.refresh(&cfg).0);
        std::fs::write(dir.path().join("a.json"), r#"[{"targets":["h:1"]}]"#).unwrap();
        assert!(sd.refresh(&cfg).0);
        assert_eq!(sd.targets().count(), 1);
        assert!(!sd.refresh(&cfg).0, "unchanged");
        std::fs::write(dir.path().join("a.json"), r#"[{"targets":["h:1","h:2"]}]"#).unwrap();
        assert!(sd.refresh(&cfg).0);
        assert_eq!(sd.targets().count(), 2);
        std::fs::write(dir.path().join("a.json"), "[garbage").unwrap();
        let (_, errs) = sd.refresh(&cfg);
        assert_eq!(errs.len(), 1);
        assert_eq!(sd.targets().count(), 2, "keeps the last good targets");
        std::fs::remove_file(dir.path().join("a.json")).unwrap();
        assert!(sd.refresh(&cfg).0);
        assert_eq!(sd.targets().count(), 0);
    }
}
