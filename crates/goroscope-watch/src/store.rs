//! History: an embedded SQLite file (WAL) written by one thread.
//!
//! * `targets` and `groups` are interned once: a group's representative stack, sites and
//!   state are stored when the group is first seen (and again when its lines change).
//! * Every poll is committed as one small `recent` row (the counts of every group) within a
//!   fraction of a second, so a crash or SIGKILL loses nothing that was committed.
//! * Every [`CHUNK_POLLS`] polls of a target, its `recent` rows are compacted into one
//!   `chunks` row: per poll a delta-of-delta timestamp and only the groups whose count changed
//!   (varints), a few bytes per poll for a steady service.
//! * Retention: chunks older than `raw` are downsampled to one point per `step` (each group's
//!   maximum over the step), chunks and events older than `max_age` are dropped, and when the
//!   file outgrows `max_size` the oldest chunks go first (freed pages are returned with
//!   incremental vacuum).
//! * Migrations are versioned with `PRAGMA user_version`.
//!
//! A write that fails (disk full, read-only file, I/O error) is rolled back, reported (log,
//! `/metrics`, an alert event, the dashboard) and retried with the next batch: never a silent
//! stop.

use crate::poll::{Form, GroupObs};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Polls per compacted chunk.
pub const CHUNK_POLLS: i64 = 60;
/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;
/// Groups stored per poll of one target; the rest are summed into `other`.
pub const MAX_GROUPS_PER_POLL: usize = 1000;

/// A store problem, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("history database {path}: {message}")]
pub struct StoreError {
    pub path: String,
    pub message: String,
}

fn serr(path: &Path, e: impl std::fmt::Display) -> StoreError {
    let m = e.to_string();
    let message = if m.contains("readonly") || m.contains("read-only") || m.contains("read only") {
        format!("{m} (the file or its directory is not writable; the watcher needs to write its history there, or give another --db)")
    } else if m.contains("full") {
        format!("{m} (the disk is full)")
    } else {
        m
    };
    StoreError {
        path: path.display().to_string(),
        message,
    }
}

/// Milliseconds since the Unix epoch.
pub fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE targets(
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        labels TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );
    CREATE TABLE groups(
        id INTEGER PRIMARY KEY,
        gid TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        site TEXT NOT NULL,
        created_by TEXT,
        exact INTEGER NOT NULL,
        info TEXT NOT NULL,
        first_seen INTEGER NOT NULL
    );
    CREATE TABLE recent(
        target INTEGER NOT NULL,
        t INTEGER NOT NULL,
        form TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY(target, t)
    ) WITHOUT ROWID;
    CREATE TABLE chunks(
        target INTEGER NOT NULL,
        t0 INTEGER NOT NULL,
        t1 INTEGER NOT NULL,
        step INTEGER NOT NULL,
        form TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY(target, t0)
    ) WITHOUT ROWID;
    CREATE TABLE verdicts(
        target INTEGER NOT NULL,
        grp INTEGER NOT NULL,
        t INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        growth TEXT NOT NULL,
        rate REAL NOT NULL,
        PRIMARY KEY(target, grp)
    ) WITHOUT ROWID;
    CREATE TABLE events(
        id INTEGER PRIMARY KEY,
        t INTEGER NOT NULL,
        target INTEGER,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_t ON events(t);
    ",
];

/// Adds what the file system says when SQLite only says it cannot open or write.
fn diagnose(path: &Path, e: impl std::fmt::Display) -> StoreError {
    let mut err = serr(path, &e);
    if err.message.contains("read-only") || err.message.contains("full") {
        return err;
    }
    let probe = if path.exists() {
        std::fs::OpenOptions::new().append(true).open(path).err()
    } else {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let p = dir.join(format!(".goroscope-write-probe-{}", std::process::id()));
        let r = std::fs::File::create(&p).err();
        let _ = std::fs::remove_file(&p);
        r
    };
    if let Some(io) = probe {
        let why = match io.kind() {
            std::io::ErrorKind::ReadOnlyFilesystem => "the file system is read-only".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied: the file or its directory is read-only for this user"
                    .to_string()
            }
            std::io::ErrorKind::StorageFull => "the disk is full".to_string(),
            _ => io.to_string(),
        };
        err.message = format!(
            "{} ({why}; the watcher needs to write its history there, or give another --db)",
            err.message
        );
    }
    err
}

/// Opens (creating and migrating) the database for writing.
pub fn open_rw(path: &Path) -> Result<Connection, StoreError> {
    open_rw_inner(path).map_err(|e| diagnose(path, e.message))
}

fn open_rw_inner(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            return Err(serr(
                path,
                format!("directory {} does not exist", dir.display()),
            ));
        }
    }
    let conn = Connection::open(path).map_err(|e| serr(path, e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| serr(path, e))?;
    // auto_vacuum only takes effect on a new file, before the first table.
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
        .map_err(|e| serr(path, e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| serr(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(serr(
            path,
            format!("cannot switch to WAL mode (got {mode})"),
        ));
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;")
        .map_err(|e| serr(path, e))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| serr(path, e))?;
    if version > SCHEMA_VERSION {
        return Err(serr(
            path,
            format!(
                "written by a newer goroscope (schema {version}, this one knows {SCHEMA_VERSION})"
            ),
        ));
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let v = i as i64 + 1;
        let tx = conn.unchecked_transaction().map_err(|e| serr(path, e))?;
        tx.execute_batch(m)
            .map_err(|e| serr(path, format!("migration {v}: {e}")))?;
        tx.execute_batch(&format!("PRAGMA user_version = {v};"))
            .map_err(|e| serr(path, e))?;
        tx.commit().map_err(|e| serr(path, e))?;
    }
    // Prove now that the file is writable, not at the first poll.
    conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")
        .map_err(|e| serr(path, e))?;
    Ok(conn)
}

/// Opens the database read-only (history queries, `db:` inputs, the dashboard).
pub fn open_ro(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(serr(
            path,
            "no such file (start `goroscope watch --db FILE` first)",
        ));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let version = |c: &Connection| -> rusqlite::Result<i64> {
        c.busy_timeout(Duration::from_secs(5))?;
        c.query_row("PRAGMA user_version", [], |r| r.get(0))
    };
    let (conn, v) =
        match Connection::open_with_flags(path, flags).and_then(|c| version(&c).map(|v| (c, v))) {
            Ok(x) => x,
            // A WAL file on read-only media (a mounted backup): no -shm can be made; read it as
            // immutable instead.
            Err(e) => {
                let uri = format!("file:{}?immutable=1", path.display());
                Connection::open_with_flags(&uri, flags | OpenFlags::SQLITE_OPEN_URI)
                    .and_then(|c| version(&c).map(|v| (c, v)))
                    .map_err(|_| serr(path, format!("{e} (is this a goroscope history file?)")))?
            }
        };
    if v == 0 || v > SCHEMA_VERSION {
        return Err(serr(
            path,
            format!("not a goroscope history file this build can read (schema {v})"),
        ));
    }
    Ok(conn)
}

/// `PRAGMA integrity_check` of a history file: `ok` when it is sound.
pub fn integrity_check(path: &Path) -> Result<String, StoreError> {
    let c = open_ro(path)?;
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| serr(path, e))
}

// ---------------------------------------------------------------------------------------------
// Encoding

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A cursor over varints that fails (never panics) on truncated or corrupt data.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&x) = self.b.get(self.i) else {
                return Err(format!("truncated at byte {}", self.i));
            };
            self.i += 1;
            v |= u64::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint too long at byte {}", self.i))
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
}

/// One poll: time and the count of every group present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRow {
    pub t: i64,
    /// (group row id, count), sorted by id.
    pub counts: Vec<(i64, u64)>,
}

fn encode_counts(counts: &[(i64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(counts.len() * 3 + 1);
    put_varint(&mut out, counts.len() as u64);
    let mut prev = 0i64;
    for &(g, c) in counts {
        put_varint(&mut out, zigzag(g - prev));
        prev = g;
        put_varint(&mut out, c);
    }
    out
}

fn decode_counts(b: &[u8]) -> Result<Vec<(i64, u64)>, String> {
    let mut c = Cur { b, i: 0 };
    let n = c.varint()?;
    if n > b.len() as u64 {
        return Err(format!("{n} entries in {} bytes", b.len()));
    }
    let mut out = Vec::with_capacity(n as usize);
    let mut prev = 0i64;
    for _ in 0..n {
        prev += unzigzag(c.varint()?);
        out.push((prev, c.varint()?));
    }
    Ok(out)
}

/// A chunk: per poll, the delta-of-delta of its time (ms) and the groups whose count changed
/// since the poll before (a count of 0 removes the group).
pub fn encode_chunk(polls: &[PollRow]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, polls.len() as u64);
    let mut prev_t = 0i64;
    let mut prev_dt = 0i64;
    let mut state: BTreeMap<i64, u64> = BTreeMap::new();
    for (i, p) in polls.iter().enumerate() {
        let dt = if i == 0 { p.t } else { p.t - prev_t };
        put_varint(&mut out, zigzag(dt - prev_dt));
        prev_dt = dt;
        prev_t = p.t;
        let now: BTreeMap<i64, u64> = p.counts.iter().copied().collect();
        let mut changes: Vec<(i64, u64)> = Vec::new();
        for (&g, &c) in &now {
            if state.get(&g) != Some(&c) {
                changes.push((g, c));
            }
        }
        for &g in state.keys() {
            if !now.contains_key(&g) {
                changes.push((g, 0));
            }
        }
        changes.sort_unstable();
        out.extend(encode_counts(&changes));
        state = now;
        state.retain(|_, c| *c > 0);
    }
    out
}

/// Decodes [`encode_chunk`].
pub fn decode_chunk(b: &[u8]) -> Result<Vec<PollRow>, String> {
    let mut c = Cur { b, i: 0 };
    let n = c.varint()?;
    if n > b.len() as u64 {
        return Err(format!("{n} polls in {} bytes", b.len()));
    }
    let mut out = Vec::with_capacity(n as usize);
    let mut t = 0i64;
    let mut dt = 0i64;
    let mut state: BTreeMap<i64, u64> = BTreeMap::new();
    for _ in 0..n {
        dt += unzigzag(c.varint()?);
        t += dt;
        let k = c.varint()?;
        if k > b.len() as u64 {
            return Err("corrupt change count".into());
        }
        let mut prev = 0i64;
        for _ in 0..k {
            prev += unzigzag(c.varint()?);
            let v = c.varint()?;
            if v == 0 {
                state.remove(&prev);
            } else {
                state.insert(prev, v);
            }
        }
        out.push(PollRow {
            t,
            counts: state.iter().map(|(&g, &c)| (g, c)).collect(),
        });
    }
    if !c.done() {
        return Err(format!("{} trailing bytes", b.len() - c.i));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The writer

/// What the writer is told.
#[derive(Debug)]
pub enum Cmd {
    Poll {
        key: String,
        labels: BTreeMap<String, String>,
        t: i64,
        form: Form,
        groups: Vec<Arc<GroupObs>>,
    },
    Verdict {
        key: String,
        group: String,
        t: i64,
        verdict: String,
        growth: String,
        rate: f64,
    },
    Event {
        key: Option<String>,
        t: i64,
        kind: String,
        data: String,
    },
    /// Commit everything before this, then answer.
    Flush(mpsc::Sender<()>),
    /// Retention and compaction now (tests); normally hourly.
    Maintain(mpsc::Sender<()>),
}

/// The writer's health, shared with `/metrics` and the dashboard.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct StoreHealth {
    pub ok: bool,
    pub last_error: Option<String>,
    pub errors: u64,
    pub polls_written: u64,
    pub polls_dropped: u64,
    pub bytes: u64,
}

/// The retention settings the writer applies.
#[derive(Debug, Clone)]
pub struct Retention {
    pub raw: Duration,
    pub step: Duration,
    pub max_age: Duration,
    pub max_size: u64,
}

/// The running writer.
#[derive(Debug, Clone)]
pub struct Store {
    tx: mpsc::SyncSender<Cmd>,
    pub health: Arc<Mutex<StoreHealth>>,
    pub path: PathBuf,
}

impl Store {
    /// Opens the file (failing now, clearly, if it cannot be written) and starts the writer
    /// thread. `on_error` is called when writing starts or stops failing.
    pub fn start(
        path: &Path,
        retention: Retention,
        on_error: Box<dyn Fn(Option<String>) + Send>,
    ) -> Result<Store, StoreError> {
        let conn = open_rw(path)?;
        let (tx, rx) = mpsc::sync_channel(8192);
        let health = Arc::new(Mutex::new(StoreHealth {
            ok: true,
            ..Default::default()
        }));
        let mut w = Writer {
            conn,
            path: path.to_path_buf(),
            targets: HashMap::new(),
            groups: HashMap::new(),
            health: health.clone(),
            retention,
            on_error,
            failing: false,
        };
        w.load_ids().map_err(|e| serr(path, e))?;
        std::thread::Builder::new()
            .name("goroscope-store".into())
            .spawn(move || w.run(rx))
            .map_err(|e| serr(path, e))?;
        Ok(Store {
            tx,
            health,
            path: path.to_path_buf(),
        })
    }

    /// Queues a command; never blocks a poller: when the queue is full the poll is counted as
    /// dropped.
    pub fn send(&self, c: Cmd) {
        if let Err(mpsc::TrySendError::Full(c) | mpsc::TrySendError::Disconnected(c)) =
            self.tx.try_send(c)
        {
            if let Cmd::Flush(done) | Cmd::Maintain(done) = c {
                let _ = done.send(());
            }
            let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
            h.polls_dropped += 1;
        }
    }

    /// Waits until everything queued before is committed (or failed).
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Cmd::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(30));
        }
    }

    /// Runs retention and compaction now.
    pub fn maintain(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Cmd::Maintain(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(120));
        }
    }
}

struct Writer {
    conn: Connection,
    path: PathBuf,
    /// key → (row id, recent rows not yet compacted)
    targets: HashMap<String, (i64, i64)>,
    /// gid → (row id, the stack hashes seen lately): one group id may have several
    /// representative stacks (other Go releases across a fleet, debug=2 beside protobuf); its
    /// row is rewritten only for one not seen lately.
    groups: HashMap<String, (i64, Vec<u64>)>,
    health: Arc<Mutex<StoreHealth>>,
    retention: Retention,
    on_error: Box<dyn Fn(Option<String>) + Send>,
    failing: bool,
}

impl Writer {
    fn load_ids(&mut self) -> rusqlite::Result<()> {
        let mut st = self.conn.prepare(
            "SELECT t.id, t.key, (SELECT count(*) FROM recent r WHERE r.target = t.id) FROM targets t",
        )?;
        for r in st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })? {
            let (id, key, n) = r?;
            self.targets.insert(key, (id, n));
        }
        let mut st = self.conn.prepare("SELECT id, gid, exact FROM groups")?;
        for r in st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })? {
            let (id, gid, exact) = r?;
            self.groups.insert(gid, (id, vec![exact as u64]));
        }
        Ok(())
    }

    fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let mut last_maintain = Instant::now();
        loop {
            let first = match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(c) => Some(c),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut batch: Vec<Cmd> = first.into_iter().collect();
            let deadline = Instant::now() + Duration::from_millis(200);
            while batch.len() < 2000 {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            let mut waiters = Vec::new();
            let mut maintain = Vec::new();
            let mut work = Vec::new();
            for c in batch {
                match c {
                    Cmd::Flush(w) => waiters.push(w),
                    Cmd::Maintain(w) => maintain.push(w),
                    c => work.push(c),
                }
            }
            let polls = work
                .iter()
                .filter(|c| matches!(c, Cmd::Poll { .. }))
                .count() as u64;
            if !work.is_empty() {
                let res = self.write(&work);
                self.report(res.map(|_| polls), polls);
            }
            if !maintain.is_empty() || last_maintain.elapsed() > Duration::from_secs(3600) {
                let res = self.maintain(SystemTime::now());
                if let Err(e) = &res {
                    tracing::error!("{}", serr(&self.path, e));
                }
                last_maintain = Instant::now();
            }
            if let Ok(b) = self.size() {
                self.health.lock().unwrap_or_else(|p| p.into_inner()).bytes = b;
            }
            for w in waiters.into_iter().chain(maintain) {
                let _ = w.send(());
            }
        }
    }

    fn report(&mut self, res: rusqlite::Result<u64>, polls: u64) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match res {
            Ok(n) => {
                h.polls_written += n;
                h.ok = true;
                if self.failing {
                    self.failing = false;
                    h.last_error = None;
                    drop(h);
                    tracing::warn!("history database {}: writing again", self.path.display());
                    (self.on_error)(None);
                }
            }
            Err(e) => {
                let msg = serr(&self.path, &e).to_string();
                h.ok = false;
                h.errors += 1;
                h.polls_dropped += polls;
                h.last_error = Some(msg.clone());
                drop(h);
                // The in-memory ids may name rows that were rolled back.
                self.targets.clear();
                self.groups.clear();
                let _ = self.load_ids();
                if !self.failing {
                    self.failing = true;
                    tracing::error!("{msg}; history is not being recorded (will retry)");
                    (self.on_error)(Some(msg));
                }
            }
        }
    }

    fn size(&self) -> rusqlite::Result<u64> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok((pages * size) as u64)
    }

    fn target_id(
        &mut self,
        key: &str,
        labels: &BTreeMap<String, String>,
        t: i64,
    ) -> rusqlite::Result<i64> {
        if let Some(&(id, _)) = self.targets.get(key) {
            return Ok(id);
        }
        let labels = serde_json::to_string(labels).unwrap_or_else(|_| "{}".into());
        self.conn.execute(
            "INSERT INTO targets(key, labels, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT(key) DO UPDATE SET labels = excluded.labels",
            params![key, labels, t],
        )?;
        let id: i64 = self
            .conn
            .query_row("SELECT id FROM targets WHERE key = ?1", [key], |r| r.get(0))?;
        let n: i64 =
            self.conn
                .query_row("SELECT count(*) FROM recent WHERE target = ?1", [id], |r| {
                    r.get(0)
                })?;
        self.targets.insert(key.to_string(), (id, n));
        Ok(id)
    }

    /// The row of a group, stored or updated from `g`. `update` is false for the on-demand
    /// forms (debug=2, the leak proof): their stacks lack the runtime frames the cheap form
    /// has, and the stored stack must give back the same group id when read as a record.
    fn group_id(&mut self, g: &GroupObs, t: i64, update: bool) -> rusqlite::Result<i64> {
        if let Some((id, seen)) = self.groups.get(&g.id) {
            if seen.contains(&g.exact) || !update {
                return Ok(*id);
            }
        }
        let info = serde_json::to_string(g).unwrap_or_else(|_| "{}".into());
        let created = g.created_by.as_ref().map(|l| l.function.clone());
        self.conn.execute(
            "INSERT INTO groups(gid, state, site, created_by, exact, info, first_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(gid) DO UPDATE SET state = excluded.state, site = excluded.site,
               created_by = excluded.created_by, exact = excluded.exact, info = excluded.info",
            params![g.id, g.state, g.site(), created, g.exact as i64, info, t],
        )?;
        let id: i64 =
            self.conn
                .query_row("SELECT id FROM groups WHERE gid = ?1", [&g.id], |r| {
                    r.get(0)
                })?;
        let e = self.groups.entry(g.id.clone()).or_insert((id, Vec::new()));
        e.0 = id;
        e.1.push(g.exact);
        if e.1.len() > 8 {
            e.1.remove(0);
        }
        Ok(id)
    }

    fn write(&mut self, work: &[Cmd]) -> rusqlite::Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let res = self
            .write_inner(work)
            .and_then(|_| self.conn.execute_batch("COMMIT"));
        if res.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        res
    }

    fn write_inner(&mut self, work: &[Cmd]) -> rusqlite::Result<()> {
        let mut touched: Vec<String> = Vec::new();
        for c in work {
            match c {
                Cmd::Poll {
                    key,
                    labels,
                    t,
                    form,
                    groups,
                } => {
                    let tid = self.target_id(key, labels, *t)?;
                    let update = !matches!(form, Form::Debug2 | Form::Leak);
                    let mut counts: Vec<(i64, u64)> =
                        Vec::with_capacity(groups.len().min(MAX_GROUPS_PER_POLL));
                    let mut sorted: Vec<&GroupObs> = groups.iter().map(|g| g.as_ref()).collect();
                    sorted.sort_by_key(|g| std::cmp::Reverse(g.count));
                    let mut other = 0;
                    for (i, g) in sorted.iter().enumerate() {
                        if i >= MAX_GROUPS_PER_POLL {
                            other += g.count;
                            continue;
                        }
                        counts.push((self.group_id(g, *t, update)?, g.count));
                    }
                    if other > 0 {
                        let o = GroupObs {
                            id: "other".into(),
                            count: other,
                            state: "other".into(),
                            verdict: goroscope_analyze::Verdict::Benign,
                            pattern: None,
                            proven: false,
                            explanation: Some("groups beyond the per-poll limit, summed".into()),
                            fix: None,
                            evidence: vec![],
                            blocking: None,
                            created_by: None,
                            stack: vec![],
                            labels: Default::default(),
                            wait_minutes: None,
                            exact: 0,
                        };
                        counts.push((self.group_id(&o, *t, true)?, other));
                    }
                    counts.sort_unstable();
                    self.conn.execute(
                        "INSERT OR REPLACE INTO recent(target, t, form, data) VALUES (?1, ?2, ?3, ?4)",
                        params![tid, t, form.as_str(), encode_counts(&counts)],
                    )?;
                    self.conn.execute(
                        "UPDATE targets SET last_seen = max(last_seen, ?2) WHERE id = ?1",
                        params![tid, t],
                    )?;
                    if let Some(e) = self.targets.get_mut(key) {
                        e.1 += 1;
                        if e.1 >= CHUNK_POLLS {
                            touched.push(key.clone());
                        }
                    }
                }
                Cmd::Verdict {
                    key,
                    group,
                    t,
                    verdict,
                    growth,
                    rate,
                } => {
                    let Some(&(tid, _)) = self.targets.get(key) else {
                        continue;
                    };
                    let Some(&(gid, _)) = self.groups.get(group) else {
                        continue;
                    };
                    self.conn.execute(
                        "INSERT OR REPLACE INTO verdicts(target, grp, t, verdict, growth, rate) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![tid, gid, t, verdict, growth, rate],
                    )?;
                }
                Cmd::Event { key, t, kind, data } => {
                    let tid = key.as_ref().and_then(|k| self.targets.get(k)).map(|x| x.0);
                    self.conn.execute(
                        "INSERT INTO events(t, target, kind, data) VALUES (?1, ?2, ?3, ?4)",
                        params![t, tid, kind, data],
                    )?;
                }
                Cmd::Flush(_) | Cmd::Maintain(_) => {}
            }
        }
        for key in touched {
            let tid = self.targets[&key].0;
            compact(&self.conn, tid)?;
            if let Some(e) = self.targets.get_mut(&key) {
                e.1 = 0;
            }
        }
        Ok(())
    }

    fn maintain(&mut self, now: SystemTime) -> rusqlite::Result<()> {
        let now = ms(now);
        let r = self.retention.clone();
        let tx = self.conn.unchecked_transaction()?;
        // Downsample raw chunks older than `raw`, per target and day.
        let cutoff = now - r.raw.as_millis() as i64;
        let step = (r.step.as_millis() as i64).max(1000);
        let rows: Vec<(i64, i64)> = {
            let mut st = self.conn.prepare(
                "SELECT DISTINCT target, t0 / 86400000 FROM chunks WHERE step = 0 AND t1 < ?1",
            )?;
            let x = st
                .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            x
        };
        for (tid, day) in rows {
            let (lo, hi) = (day * 86_400_000, (day + 1) * 86_400_000);
            let mut polls = Vec::new();
            {
                let mut st = self.conn.prepare(
                    "SELECT data FROM chunks WHERE target = ?1 AND step = 0 AND t1 < ?2 AND t0 >= ?3 AND t0 < ?4 ORDER BY t0",
                )?;
                let blobs = st
                    .query_map(params![tid, cutoff, lo, hi], |r| r.get::<_, Vec<u8>>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for b in blobs {
                    if let Ok(p) = decode_chunk(&b) {
                        polls.extend(p);
                    }
                }
            }
            let down = downsample(&polls, step);
            if let (Some(f), Some(l)) = (down.first(), down.last()) {
                self.conn.execute(
                    "DELETE FROM chunks WHERE target = ?1 AND step = 0 AND t1 < ?2 AND t0 >= ?3 AND t0 < ?4",
                    params![tid, cutoff, lo, hi],
                )?;
                self.conn.execute(
                    "INSERT OR REPLACE INTO chunks(target, t0, t1, step, form, data) VALUES (?1, ?2, ?3, ?4, 'downsampled', ?5)",
                    params![tid, f.t, l.t, step, encode_chunk(&down)],
                )?;
            }
        }
        let old = now - r.max_age.as_millis() as i64;
        self.conn
            .execute("DELETE FROM chunks WHERE t1 < ?1", [old])?;
        self.conn
            .execute("DELETE FROM events WHERE t < ?1", [old])?;
        tx.commit()?;
        // Size cap: drop the oldest tenth of the chunks until under the cap.
        for _ in 0..10 {
            let size = self.size()?;
            let free: i64 = self
                .conn
                .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            let psize: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let used = size.saturating_sub((free * psize) as u64);
            if used <= r.max_size {
                break;
            }
            let n: i64 = self
                .conn
                .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))?;
            if n == 0 {
                break;
            }
            self.conn.execute(
                "DELETE FROM chunks WHERE (target, t0) IN (SELECT target, t0 FROM chunks ORDER BY t1 LIMIT ?1)",
                [(n / 10).max(1)],
            )?;
            tracing::warn!(
                "history database {}: over its size cap ({} bytes): dropped the oldest history",
                self.path.display(),
                r.max_size
            );
        }
        self.conn
            .execute_batch("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

/// Moves a target's `recent` rows into chunks: one per run of polls that stays within one UTC
/// day and has no gap over an hour (so retention can downsample and expire whole chunks).
fn compact(conn: &Connection, tid: i64) -> rusqlite::Result<()> {
    let mut st = conn.prepare("SELECT t, form, data FROM recent WHERE target = ?1 ORDER BY t")?;
    let rows = st
        .query_map([tid], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut start = 0;
    for i in 1..=rows.len() {
        let split = i == rows.len()
            || rows[i].0 - rows[i - 1].0 > 3_600_000
            || rows[i].0.div_euclid(86_400_000) != rows[start].0.div_euclid(86_400_000);
        if split {
            write_chunk(conn, tid, &rows[start..i])?;
            start = i;
        }
    }
    if let Some(last) = rows.last() {
        conn.execute(
            "DELETE FROM recent WHERE target = ?1 AND t <= ?2",
            params![tid, last.0],
        )?;
    }
    Ok(())
}

fn write_chunk(
    conn: &Connection,
    tid: i64,
    rows: &[(i64, String, Vec<u8>)],
) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut forms: HashMap<&str, usize> = HashMap::new();
    let mut polls = Vec::with_capacity(rows.len());
    for (t, form, data) in rows {
        *forms.entry(form.as_str()).or_default() += 1;
        if let Ok(counts) = decode_counts(data) {
            polls.push(PollRow { t: *t, counts });
        }
    }
    let form = forms
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or("proto", |(f, _)| f);
    let (t0, t1) = (rows[0].0, rows[rows.len() - 1].0);
    conn.execute(
        "INSERT OR REPLACE INTO chunks(target, t0, t1, step, form, data) VALUES (?1, ?2, ?3, 0, ?4, ?5)",
        params![tid, t0, t1, form, encode_chunk(&polls)],
    )?;
    Ok(())
}

/// One point per `step`: each group's maximum over the step, at the step's start.
pub fn downsample(polls: &[PollRow], step: i64) -> Vec<PollRow> {
    let mut out: Vec<PollRow> = Vec::new();
    let mut cur: Option<(i64, BTreeMap<i64, u64>)> = None;
    for p in polls {
        let b = p.t - p.t.rem_euclid(step);
        if cur.as_ref().is_some_and(|(cb, _)| *cb != b) {
            let (cb, m) = cur.take().unwrap_or_default();
            out.push(PollRow {
                t: cb,
                counts: m.into_iter().collect(),
            });
        }
        let m = &mut cur.get_or_insert_with(|| (b, BTreeMap::new())).1;
        for &(g, c) in &p.counts {
            let e = m.entry(g).or_default();
            *e = (*e).max(c);
        }
    }
    if let Some((cb, m)) = cur {
        out.push(PollRow {
            t: cb,
            counts: m.into_iter().collect(),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A target in the store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredTarget {
    pub id: i64,
    pub key: String,
    pub labels: BTreeMap<String, String>,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A group as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredGroup {
    pub id: i64,
    pub gid: String,
    pub state: String,
    pub site: String,
    pub created_by: Option<String>,
    pub info: Option<GroupInfo>,
}

/// The representative facts of a group, as the store keeps them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct GroupInfo {
    pub id: String,
    pub state: String,
    pub verdict: goroscope_analyze::Verdict,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub blocking: Option<goroscope_analyze::Location>,
    #[serde(default)]
    pub created_by: Option<goroscope_analyze::Location>,
    #[serde(default)]
    pub stack: Vec<goroscope_analyze::StackFrame>,
    #[serde(default)]
    pub labels: BTreeMap<String, Vec<String>>,
}

/// Reads the history.
pub struct Reader {
    conn: Connection,
    path: PathBuf,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        Ok(Reader {
            conn: open_ro(path)?,
            path: path.to_path_buf(),
        })
    }

    fn e(&self, e: impl std::fmt::Display) -> StoreError {
        serr(&self.path, e)
    }

    pub fn targets(&self) -> Result<Vec<StoredTarget>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, key, labels, first_seen, last_seen FROM targets ORDER BY key")
            .map_err(|e| self.e(e))?;
        let rows = st
            .query_map([], |r| {
                let labels: String = r.get(2)?;
                Ok(StoredTarget {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    labels: serde_json::from_str(&labels).unwrap_or_default(),
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                })
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        Ok(rows)
    }

    /// Finds a target by key, row id, or a unique label value / key substring.
    pub fn find_target(&self, spec: &str) -> Result<StoredTarget, StoreError> {
        let all = self.targets()?;
        if let Some(t) = all.iter().find(|t| t.key == spec) {
            return Ok(t.clone());
        }
        if let Ok(id) = spec.parse::<i64>() {
            if let Some(t) = all.iter().find(|t| t.id == id) {
                return Ok(t.clone());
            }
        }
        let m: Vec<&StoredTarget> = all
            .iter()
            .filter(|t| t.key.contains(spec) || t.labels.values().any(|v| v == spec))
            .collect();
        match m.len() {
            1 => Ok(m[0].clone()),
            0 => Err(self.e(format!(
                "no target `{spec}` (known: {})",
                all.iter()
                    .map(|t| t.key.as_str())
                    .take(10)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            n => Err(self.e(format!(
                "`{spec}` matches {n} targets ({}); give the whole key or its id",
                m.iter()
                    .map(|t| t.key.as_str())
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    pub fn groups(&self, ids: &[i64]) -> Result<HashMap<i64, StoredGroup>, StoreError> {
        let mut out = HashMap::new();
        let mut st = self
            .conn
            .prepare("SELECT id, gid, state, site, created_by, info FROM groups WHERE id = ?1")
            .map_err(|e| self.e(e))?;
        for &id in ids {
            let g = st
                .query_row([id], |r| {
                    let info: String = r.get(5)?;
                    Ok(StoredGroup {
                        id: r.get(0)?,
                        gid: r.get(1)?,
                        state: r.get(2)?,
                        site: r.get(3)?,
                        created_by: r.get(4)?,
                        info: serde_json::from_str(&info).ok(),
                    })
                })
                .optional()
                .map_err(|e| self.e(e))?;
            if let Some(g) = g {
                out.insert(id, g);
            }
        }
        Ok(out)
    }

    pub fn group_by_gid(&self, gid: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT id FROM groups WHERE gid = ?1", [gid], |r| r.get(0))
            .optional()
            .map_err(|e| self.e(e))
    }

    /// Every poll of a target between `from` and `to` (ms), oldest first, with its form.
    pub fn polls(
        &self,
        target: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(PollRow, String)>, StoreError> {
        let mut out = Vec::new();
        let mut st = self
            .conn
            .prepare("SELECT data, form FROM chunks WHERE target = ?1 AND t1 >= ?2 AND t0 <= ?3 ORDER BY t0")
            .map_err(|e| self.e(e))?;
        let blobs = st
            .query_map(params![target, from, to], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        for (b, form) in blobs {
            let polls = decode_chunk(&b)
                .map_err(|m| self.e(format!("corrupt chunk of target {target}: {m}")))?;
            out.extend(
                polls
                    .into_iter()
                    .filter(|p| p.t >= from && p.t <= to)
                    .map(|p| (p, form.clone())),
            );
        }
        let mut st = self
            .conn
            .prepare("SELECT t, form, data FROM recent WHERE target = ?1 AND t >= ?2 AND t <= ?3 ORDER BY t")
            .map_err(|e| self.e(e))?;
        let rows = st
            .query_map(params![target, from, to], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        for (t, form, d) in rows {
            let counts = decode_counts(&d)
                .map_err(|m| self.e(format!("corrupt poll of target {target} at {t}: {m}")))?;
            out.push((PollRow { t, counts }, form));
        }
        out.sort_by_key(|(p, _)| p.t);
        out.dedup_by_key(|(p, _)| p.t);
        Ok(out)
    }

    /// The last poll at or before `at` (ms).
    pub fn poll_at(&self, target: i64, at: i64) -> Result<Option<(PollRow, String)>, StoreError> {
        // Look back a day at most for a point; downsampled history has one per step.
        let polls = self.polls(target, at - 86_400_000 * 3, at)?;
        Ok(polls.into_iter().next_back())
    }

    /// Current verdicts per group of a target: gid → (verdict, growth, rate).
    pub fn verdicts(&self, target: i64) -> Result<HashMap<i64, (String, String, f64)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT grp, verdict, growth, rate FROM verdicts WHERE target = ?1")
            .map_err(|e| self.e(e))?;
        let rows = st
            .query_map([target], |r| {
                Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<HashMap<_, _>>>()
            .map_err(|e| self.e(e))?;
        Ok(rows)
    }

    /// Events (alerts, restarts, deploys) since `from` (ms), newest first.
    pub fn events(
        &self,
        target: Option<i64>,
        from: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String, serde_json::Value)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT t, kind, data FROM events WHERE t >= ?1 AND (?2 IS NULL OR target = ?2) ORDER BY t DESC LIMIT ?3")
            .map_err(|e| self.e(e))?;
        let rows = st
            .query_map(params![from, target, limit as i64], |r| {
                let d: String = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    serde_json::from_str(&d).unwrap_or(serde_json::Value::Null),
                ))
            })
            .map_err(|e| self.e(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.e(e))?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<PollRow> {
        let mut v = Vec::new();
        let mut t = 1_700_000_000_000i64;
        for i in 0..60u64 {
            t += 15_000 + (i as i64 % 3) - 1;
            let mut counts = vec![(1, 100), (2, 3 + i / 4), (7, 1)];
            if i % 10 < 5 {
                counts.push((9, 1 + i % 3));
            }
            counts.sort_unstable();
            v.push(PollRow { t, counts });
        }
        v
    }

    #[test]
    fn chunks_round_trip_and_are_small() {
        let r = rows();
        let b = encode_chunk(&r);
        assert_eq!(decode_chunk(&b).unwrap(), r);
        // 60 polls of a service with one slowly growing and one flapping group.
        assert!(b.len() < 400, "{} bytes", b.len());
        // Corrupt data is an error, never a panic.
        for cut in 0..b.len() {
            let _ = decode_chunk(&b[..cut]);
        }
        assert!(decode_chunk(&[0xff; 12]).is_err());
        assert!(decode_counts(&[5, 1]).is_err());
    }

    fn writer(path: &Path, retention: Retention) -> Writer {
        let mut w = Writer {
            conn: open_rw(path).unwrap(),
            path: path.to_path_buf(),
            targets: HashMap::new(),
            groups: HashMap::new(),
            health: Default::default(),
            retention,
            on_error: Box::new(|_| {}),
            failing: false,
        };
        w.load_ids().unwrap();
        w
    }

    fn group(id: &str, count: u64) -> GroupObs {
        GroupObs {
            id: id.into(),
            count,
            state: "chan receive".into(),
            verdict: goroscope_analyze::Verdict::Suspect,
            pattern: None,
            proven: false,
            explanation: None,
            fix: None,
            evidence: vec![],
            blocking: None,
            created_by: None,
            stack: vec![goroscope_analyze::StackFrame {
                function: format!("main.{id}"),
                file: "main.go".into(),
                line: 3,
                inlined: false,
            }],
            labels: Default::default(),
            wait_minutes: None,
            exact: 1,
        }
    }

    #[test]
    fn polls_compact_downsample_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let day = 86_400_000i64;
        let now = SystemTime::now();
        let n = ms(now);
        let mut w = writer(
            &path,
            Retention {
                raw: Duration::from_secs(86400),
                step: Duration::from_secs(300),
                max_age: Duration::from_secs(30 * 86400),
                max_size: 1 << 30,
            },
        );
        // Three stretches of 15 s polls: 40 days ago (expires), 3 days ago (downsampled),
        // just now (kept raw).
        for (base, polls) in [(n - 40 * day, 120), (n - 3 * day, 240), (n - 600_000, 30)] {
            let cmds: Vec<Cmd> = (0..polls)
                .map(|i| Cmd::Poll {
                    key: "t".into(),
                    labels: Default::default(),
                    t: base + i * 15_000,
                    form: Form::Proto,
                    groups: vec![
                        Arc::new(group("a", 10 + i as u64 / 8)),
                        Arc::new(group("b", 3)),
                    ],
                })
                .collect();
            for c in cmds.chunks(7) {
                w.write(c).unwrap();
            }
        }
        let r = Reader::open(&path).unwrap();
        let t = r.find_target("t").unwrap();
        assert_eq!(
            r.polls(t.id, 0, i64::MAX).unwrap().len(),
            390,
            "every poll readable"
        );
        let chunks: i64 = w
            .conn
            .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
            .unwrap();
        assert!(chunks >= 6, "compacted every 60 polls: {chunks}");
        w.maintain(now).unwrap();
        let polls = r.polls(t.id, 0, i64::MAX).unwrap();
        let old: Vec<_> = polls.iter().filter(|(p, _)| p.t < n - 2 * day).collect();
        assert!(
            old.len() <= 13 && !old.is_empty(),
            "3 days ago: 1 h at 5 min steps, got {}",
            old.len()
        );
        assert!(
            polls.iter().all(|(p, _)| p.t > n - 35 * day),
            "40 days ago expired"
        );
        let recent = polls.iter().filter(|(p, _)| p.t >= n - 600_000).count();
        assert_eq!(recent, 30, "recent polls kept at full resolution");
        // Downsampled points keep the maximum of each group.
        let ga = r.group_by_gid("a").unwrap().unwrap();
        let max_old = old
            .iter()
            .map(|(p, _)| p.counts.iter().find(|c| c.0 == ga).unwrap().1)
            .max();
        assert_eq!(max_old, Some(10 + 239 / 8));
        assert_eq!(integrity_check(&path).unwrap(), "ok");
    }

    #[test]
    fn migrations_are_versioned_and_newer_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        drop(open_rw(&path).unwrap());
        drop(open_rw(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        assert_eq!(
            c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            SCHEMA_VERSION
        );
        c.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(c);
        let e = open_rw(&path).unwrap_err().to_string();
        assert!(e.contains("newer goroscope"), "{e}");
        std::fs::write(
            dir.path().join("x.db"),
            b"not a database at all, not even close....",
        )
        .unwrap();
        assert!(open_ro(&dir.path().join("x.db")).is_err());
    }

    #[test]
    fn downsampling_keeps_the_maximum() {
        let r = rows();
        let d = downsample(&r, 300_000);
        assert!(d.len() <= 5, "{}", d.len());
        let max2 = r
            .iter()
            .flat_map(|p| p.counts.iter())
            .filter(|c| c.0 == 2)
            .map(|c| c.1)
            .max();
        let dmax2 = d
            .iter()
            .flat_map(|p| p.counts.iter())
            .filter(|c| c.0 == 2)
            .map(|c| c.1)
            .max();
        assert_eq!(max2, dmax2);
    }
}
