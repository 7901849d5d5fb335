//! The events the BPF program writes into its ring buffer (`struct event` in
//! `src/bpf/trace.bpf.c`: 48 bytes, little endian), decoded without any cast.

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Create,
    Exit,
    Park,
    Resume,
}

/// One event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    /// CLOCK_MONOTONIC nanoseconds (the clock of Go's `nanotime`).
    pub ts: u64,
    pub goid: u64,
    /// Create: the creator's goid (`parentGoid`; 0 for the runtime).
    pub parent_goid: u64,
    /// Resume: nanoseconds since the goroutine parked.
    pub blocked_ns: u64,
    /// The `go` statement (runtime address; 0 for resume).
    pub gopc: u64,
    /// The goroutine's function (runtime address; 0 for resume).
    pub startpc: u64,
    /// Park, resume: the wait reason number (the release's numbering).
    pub reason: u8,
    /// In the stack map, when stacks are taken.
    pub stack_id: Option<u32>,
}

/// Size of one event in the ring buffer.
pub const EVENT_SIZE: usize = 48;

impl Event {
    /// Decodes one ring-buffer record; `None` for a short record or an unknown kind.
    pub fn decode(b: &[u8]) -> Option<Event> {
        if b.len() < EVENT_SIZE {
            return None;
        }
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let kind = match b[0] {
            1 => Kind::Create,
            2 => Kind::Exit,
            3 => Kind::Park,
            4 => Kind::Resume,
            _ => return None,
        };
        let stack = i32::from_le_bytes(b[4..8].try_into().unwrap());
        let aux = u64_at(24);
        Some(Event {
            kind,
            reason: b[1],
            stack_id: u32::try_from(stack).ok(),
            ts: u64_at(8),
            goid: u64_at(16),
            parent_goid: if kind == Kind::Create { aux } else { 0 },
            blocked_ns: if kind == Kind::Resume { aux } else { 0 },
            gopc: u64_at(32),
            startpc: u64_at(40),
        })
    }

    /// Encodes it the way the BPF program does (tests, replays).
    pub fn encode(&self) -> [u8; EVENT_SIZE] {
        let mut b = [0u8; EVENT_SIZE];
        b[0] = match self.kind {
            Kind::Create => 1,
            Kind::Exit => 2,
            Kind::Park => 3,
            Kind::Resume => 4,
        };
        b[1] = self.reason;
        let stack = self.stack_id.map(|s| s as i32).unwrap_or(-1);
        b[4..8].copy_from_slice(&stack.to_le_bytes());
        let aux = match self.kind {
            Kind::Create => self.parent_goid,
            Kind::Resume => self.blocked_ns,
            _ => 0,
        };
        for (o, v) in [
            (8, self.ts),
            (16, self.goid),
            (24, aux),
            (32, self.gopc),
            (40, self.startpc),
        ] {
            b[o..o + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One event as a JSON line (`--events FILE`): `kind`, `ts_ns` (CLOCK_MONOTONIC), `goid`, and
/// per kind `parent_goid`, `blocked_ns`, `wait_reason` (number), `stack_id`; `site` (the `go`
/// statement) and `entry` when known.
pub fn json_line(e: &Event, site: Option<&crate::state::Site>) -> String {
    let kind = match e.kind {
        Kind::Create => "create",
        Kind::Exit => "exit",
        Kind::Park => "park",
        Kind::Resume => "resume",
    };
    let mut s = format!(
        "{{\"kind\":\"{kind}\",\"ts_ns\":{},\"goid\":{}",
        e.ts, e.goid
    );
    match e.kind {
        Kind::Create => s.push_str(&format!(",\"parent_goid\":{}", e.parent_goid)),
        Kind::Resume => s.push_str(&format!(
            ",\"blocked_ns\":{},\"wait_reason\":{}",
            e.blocked_ns, e.reason
        )),
        Kind::Park => s.push_str(&format!(",\"wait_reason\":{}", e.reason)),
        Kind::Exit => {}
    }
    if let Some(id) = e.stack_id {
        s.push_str(&format!(",\"stack_id\":{id}"));
    }
    if let Some(site) = site {
        s.push_str(&format!(",\"site\":{}", json_str(&site.key.to_string())));
        if let Some(entry) = &site.entry {
            s.push_str(&format!(",\"entry\":{}", json_str(entry)));
        }
    }
    s.push('}');
    s
}

/// The BPF program's counters (`enum counter`), summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub created: u64,
    pub exited: u64,
    pub parked: u64,
    pub resumed: u64,
    /// Events lost because the ring buffer was full.
    pub dropped: u64,
    /// Events lost because the goroutine's `g` could not be read.
    pub read_errors: u64,
    /// Stacks not taken.
    pub stack_errors: u64,
    /// Hits from another process (0 unless the pid filter failed).
    pub other: u64,
}

impl Counters {
    /// From the counter array, index order of `enum counter`.
    pub fn from_slots(v: &[u64]) -> Counters {
        let g = |i: usize| v.get(i).copied().unwrap_or(0);
        Counters {
            created: g(0),
            exited: g(1),
            parked: g(2),
            resumed: g(3),
            dropped: g(4),
            read_errors: g(5),
            stack_errors: g(6),
            other: g(7),
        }
    }

    /// Events that never reached user space: the counts are partial when this is not 0.
    pub fn lost(&self) -> u64 {
        self.dropped + self.read_errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let e = Event {
            kind: Kind::Create,
            ts: 123,
            goid: 42,
            parent_goid: 1,
            blocked_ns: 0,
            gopc: 0x4a_1234,
            startpc: 0x4a_0000,
            reason: 0,
            stack_id: Some(7),
        };
        let b = e.encode();
        assert_eq!(Event::decode(&b), Some(e));
        // struct event: kind @0, reason @1, stack_id @4, ts @8, goid @16, aux @24, gopc @32,
        // startpc @40.
        assert_eq!(b[0], 1);
        assert_eq!(&b[4..8], &7i32.to_le_bytes());
        assert_eq!(&b[16..24], &42u64.to_le_bytes());
        assert_eq!(&b[24..32], &1u64.to_le_bytes());
        let r = Event {
            kind: Kind::Resume,
            blocked_ns: 5_000,
            parent_goid: 0,
            stack_id: None,
            reason: 14,
            ..e
        };
        assert_eq!(Event::decode(&r.encode()), Some(r));
        assert_eq!(Event::decode(&b[..47]), None);
        let mut bad = b;
        bad[0] = 9;
        assert_eq!(Event::decode(&bad), None);
    }

    #[test]
    fn json_lines() {
        let e = Event {
            kind: Kind::Create,
            ts: 5,
            goid: 7,
            parent_goid: 1,
            blocked_ns: 0,
            gopc: 0,
            startpc: 0,
            reason: 0,
            stack_id: None,
        };
        assert_eq!(
            json_line(&e, None),
            r#"{"kind":"create","ts_ns":5,"goid":7,"parent_goid":1}"#
        );
        assert_eq!(json_str("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }

    #[test]
    fn counters_in_enum_order() {
        let c = Counters::from_slots(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            (c.created, c.exited, c.dropped, c.read_errors, c.other),
            (1, 2, 5, 6, 8)
        );
        assert_eq!(c.lost(), 11);
        assert_eq!(Counters::from_slots(&[]), Counters::default());
    }
}
