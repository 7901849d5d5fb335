//! Recognising the lines of a Go traceback, on raw bytes.
//!
//! Every function here takes one line's *content* (log prefix and trailing `\r` already removed)
//! and either recognises it or returns `None`; none of them allocates. The grammar follows the
//! runtime's printers (`src/runtime/traceback.go`: `goroutineheader`, `traceback2`,
//! `printcreatedby1`, `printAncestorTraceback`).

/// Finds line ends. On x86-64 the AVX2 searcher is picked once per block instead of going
/// through `memchr`'s dispatch for every (short) line.
pub(crate) struct NewlineFinder {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl NewlineFinder {
    pub fn new() -> Self {
        NewlineFinder {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    /// The first `\n` in `buf` at or after `from`.
    #[inline]
    pub fn find(&self, buf: &[u8], from: usize) -> Option<usize> {
        let rest = buf.get(from..)?;
        #[cfg(target_arch = "x86_64")]
        let n = match &self.avx2 {
            Some(one) => one.find(rest),
            None => memchr::memchr(b'\n', rest),
        };
        #[cfg(not(target_arch = "x86_64"))]
        let n = memchr::memchr(b'\n', rest);
        n.map(|n| from + n)
    }
}

/// `goroutine <id>[ gp=… m=…[ mp=…]] [<state>][ {labels}]:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub goid: u64,
    pub gp: Option<u64>,
    /// `m=N`; `None` for `m=nil` or when absent.
    pub m: Option<u32>,
    /// `gp=` was printed (Go 1.22+ crash / `GOTRACEBACK>=system` headers).
    pub has_gp: bool,
    /// The text between the brackets.
    pub state: &'a [u8],
    /// The text between the braces (Go 1.27 `tracebacklabels`), without them.
    pub labels: Option<&'a [u8]>,
}

/// Longest goroutine id we accept (u64 has 20 digits).
const MAX_ID_DIGITS: usize = 20;

#[inline]
fn parse_dec(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > MAX_ID_DIGITS {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

#[inline]
fn parse_hex(b: &[u8]) -> Option<u64> {
    let b = b.strip_prefix(b"0x").unwrap_or(b);
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | d as u64;
    }
    Some(v)
}

/// Number of leading ASCII digits.
#[inline]
fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Parses a header line that starts exactly at `goroutine `.
pub(crate) fn parse_header(s: &[u8]) -> Option<Header<'_>> {
    let rest = s.strip_prefix(b"goroutine ")?;
    let n = digits(rest);
    let goid = parse_dec(&rest[..n])?;
    let mut rest = &rest[n..];
    let mut h = Header {
        goid,
        gp: None,
        m: None,
        has_gp: false,
        state: b"",
        labels: None,
    };
    // Optional ` gp=0x… m=N|nil[ mp=0x…]`.
    while let Some(r) = rest.strip_prefix(b" ") {
        if r.first() == Some(&b'[') {
            rest = r;
            break;
        }
        let end = memchr::memchr(b' ', r).unwrap_or(r.len());
        let word = &r[..end];
        if let Some(v) = word.strip_prefix(b"gp=") {
            h.gp = parse_hex(v);
            h.has_gp = true;
        } else if let Some(v) = word.strip_prefix(b"mp=") {
            parse_hex(v)?;
        } else if let Some(v) = word.strip_prefix(b"m=") {
            if v != b"nil" {
                h.m = Some(u32::try_from(parse_dec(v)?).ok()?);
            }
        } else {
            return None;
        }
        rest = &r[end..];
    }
    let rest = rest.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', rest)?;
    h.state = &rest[..close];
    let mut rest = &rest[close + 1..];
    if let Some(r) = rest.strip_prefix(b" {") {
        let end = labels_end(r)?;
        h.labels = Some(&r[..end]);
        rest = &r[end + 1..];
    }
    let rest = rest.strip_prefix(b":")?;
    if !rest.iter().all(|c| c.is_ascii_whitespace()) {
        return None;
    }
    Some(h)
}

/// Index of the `}` closing a label list, skipping quoted strings.
fn labels_end(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return None;
                }
            }
            b'}' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses the inside of a label list: `k: v, "k 2": "v\n"`. Bare tokens are
/// `[A-Za-z0-9./_]*`; anything else is a Go-quoted string (the runtime's `printquoted`).
pub(crate) fn parse_labels(b: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = b;
    if rest.is_empty() {
        return Some(out);
    }
    loop {
        let (k, r) = label_token(rest)?;
        let r = r.strip_prefix(b": ")?;
        let (v, r) = label_token(r)?;
        out.push((k, v));
        if r.is_empty() {
            return Some(out);
        }
        rest = r.strip_prefix(b", ")?;
        if out.len() > 4096 {
            return None;
        }
    }
}

fn is_bare(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'/' || c == b'_'
}

fn label_token(b: &[u8]) -> Option<(String, &[u8])> {
    if b.first() != Some(&b'"') {
        let n = b.iter().take_while(|&&c| is_bare(c)).count();
        // Bare tokens are ASCII by construction.
        return Some((String::from_utf8_lossy(&b[..n]).into_owned(), &b[n..]));
    }
    let mut bytes = Vec::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((String::from_utf8_lossy(&bytes).into_owned(), &b[i + 1..])),
            b'\\' => {
                let e = *b.get(i + 1)?;
                i += 2;
                match e {
                    b'n' => bytes.push(b'\n'),
                    b'r' => bytes.push(b'\r'),
                    b't' => bytes.push(b'\t'),
                    b'\\' => bytes.push(b'\\'),
                    b'"' => bytes.push(b'"'),
                    b'x' | b'u' | b'U' => {
                        let n = match e {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let hex = b.get(i..i + n)?;
                        let v = u32::try_from(parse_hex(hex)?).ok()?;
                        i += n;
                        if e == b'x' {
                            // A raw byte (the runtime prints invalid UTF-8 this way).
                            bytes.push(v as u8);
                        } else {
                            let c = char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER);
                            let mut tmp = [0u8; 4];
                            bytes.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                        }
                    }
                    other => {
                        bytes.push(b'\\');
                        bytes.push(other);
                    }
                }
            }
            c => {
                bytes.push(c);
                i += 1;
            }
        }
    }
    None
}

/// A function line: `name(args)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FuncLine<'a> {
    pub name: &'a [u8],
    pub args: &'a [u8],
}

/// Parses `pkg.fn(args)`. The arguments are the last balanced parenthesised group, so `(`
/// inside the name (`(*T).m`, `yaml%2ev2.(*d).f`, generic `[...]`) does not confuse it.
pub(crate) fn parse_func(s: &[u8]) -> Option<FuncLine<'_>> {
    split_func(s).filter(|f| valid_name(f.name))
}

/// [`parse_func`] without the name check ([`valid_name`]), for callers that know the name
/// already (a cache hit on the same bytes).
#[inline]
pub(crate) fn split_func(s: &[u8]) -> Option<FuncLine<'_>> {
    if s.last() != Some(&b')') || s.len() < 3 {
        return None;
    }
    let first = s[0];
    if first.is_ascii_whitespace() || first == b'(' {
        return None;
    }
    // Arguments never contain parentheses, so the last '(' normally matches; fall back to a
    // balanced scan when it does not.
    let body = &s[..s.len() - 1];
    let open = match rfind2_near_end(b'(', b')', body) {
        Some(o) if body[o] == b'(' => o,
        None => return None,
        Some(_) => {
            let mut depth = 0usize;
            let mut found = None;
            for i in (0..s.len()).rev() {
                match s[i] {
                    b')' => depth += 1,
                    b'(' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            found = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            found?
        }
    };
    let name = &s[..open];
    if name.is_empty() {
        return None;
    }
    Some(FuncLine {
        name,
        args: &s[open + 1..s.len() - 1],
    })
}

/// How far from the end a byte is looked for one by one before handing over to `memrchr`:
/// the searched suffixes (arguments, ` +0x1d`) are short, and a plain loop beats the SIMD
/// dispatch there.
const NEAR_END: usize = 32;

/// The last `a` or `b` in `s`, searched from the end.
#[inline]
fn rfind2_near_end(a: u8, b: u8, s: &[u8]) -> Option<usize> {
    let lo = s.len().saturating_sub(NEAR_END);
    match s[lo..].iter().rposition(|&c| c == a || c == b) {
        Some(p) => Some(lo + p),
        None => memchr::memrchr2(a, b, &s[..lo]),
    }
}

/// The last `a` in `s`, searched from the end.
#[inline]
fn rfind_near_end(a: u8, s: &[u8]) -> Option<usize> {
    let lo = s.len().saturating_sub(NEAR_END);
    match s[lo..].iter().rposition(|&c| c == a) {
        Some(p) => Some(lo + p),
        None => memchr::memrchr(a, &s[..lo]),
    }
}

/// A Go symbol name: no spaces except inside brackets (old generic shapes), at least one
/// character that is not punctuation.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    if memchr::memchr(b' ', name).is_none() {
        return !name.ends_with(b":");
    }
    let mut depth = 0i32;
    for &c in name {
        match c {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b' ' if depth <= 0 => return false,
            _ => {}
        }
    }
    true
}

/// A file line: `\t/path/file.go:123 +0x1d fp=… sp=… pc=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileLine<'a> {
    /// `path:line +0xoff`, the part that identifies the frame (addresses cut off).
    pub key: &'a [u8],
    pub path: &'a [u8],
    pub line: u32,
    pub offset: Option<u32>,
}

/// Strips the indentation of a file line: tabs, spaces (tabs turned into spaces by a log
/// pipeline) and syslog's `#011`.
#[inline]
pub(crate) fn strip_indent(mut s: &[u8]) -> &[u8] {
    loop {
        match s.first() {
            Some(b'\t' | b' ') => s = &s[1..],
            Some(b'#') if s.starts_with(b"#011") => s = &s[4..],
            _ => return s,
        }
    }
}

/// The part of a file line that identifies a frame: `path:line +0xoff`, without indentation
/// and without the `fp=… sp=… pc=…` addresses. Cheap: only the last words are looked at.
#[inline]
pub(crate) fn file_key(s: &[u8]) -> &[u8] {
    let s = strip_indent(s);
    let mut end = trim_end(s).len();
    for _ in 0..3 {
        let Some(sp) = rfind_near_end(b' ', &s[..end]) else {
            break;
        };
        let word = &s[sp + 1..end];
        if word.len() > 3 && matches!(&word[..3], b"pc=" | b"sp=" | b"fp=") {
            end = sp;
        } else {
            break;
        }
    }
    &s[..end]
}

/// Parses a file line (indentation already stripped or not). Scans backwards over the short
/// suffix only (`:123 +0x1d fp=… sp=… pc=…`).
pub(crate) fn parse_file(s: &[u8]) -> Option<FileLine<'_>> {
    let key = file_key(s);
    if let Some(sp) = rfind_near_end(b' ', key) {
        if let Some(h) = key[sp + 1..].strip_prefix(b"+0x") {
            let v = parse_hex(h)?;
            let offset = Some(u32::try_from(v).unwrap_or(u32::MAX));
            return finish_file(key, &key[..sp], offset);
        }
    }
    finish_file(key, key, None)
}

#[inline]
fn finish_file<'a>(key: &'a [u8], head: &'a [u8], offset: Option<u32>) -> Option<FileLine<'a>> {
    let nd = head.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if nd == 0 || nd > 10 || nd >= head.len() {
        return None;
    }
    let colon = head.len() - nd - 1;
    if head[colon] != b':' {
        return None;
    }
    let line = u32::try_from(parse_dec(&head[colon + 1..])?).unwrap_or(u32::MAX);
    let path = &head[..colon];
    if path.is_empty() || path.ends_with(b" ") {
        return None;
    }
    Some(FileLine {
        key,
        path,
        line,
        offset,
    })
}

/// `created by pkg.fn[ in goroutine N]`.
pub(crate) fn parse_created_by(s: &[u8]) -> Option<(&[u8], Option<u64>)> {
    let rest = s.strip_prefix(b"created by ")?;
    let rest = trim_end(rest);
    if let Some(p) = memchr::memmem::rfind(rest, b" in goroutine ") {
        if let Some(id) = parse_dec(&rest[p + 14..]) {
            return Some((&rest[..p], Some(id)));
        }
    }
    if rest.is_empty() {
        return None;
    }
    Some((rest, None))
}

/// `[originating from goroutine N]:`.
pub(crate) fn parse_ancestor(s: &[u8]) -> Option<u64> {
    let rest = s.strip_prefix(b"[originating from goroutine ")?;
    let n = digits(rest);
    let id = parse_dec(&rest[..n])?;
    if trim_end(&rest[n..]) != b"]:" {
        return None;
    }
    Some(id)
}

/// `...additional frames elided...` → `Some(None)`; `...N frames elided...` → `Some(Some(N))`.
pub(crate) fn parse_elided(s: &[u8]) -> Option<Option<u32>> {
    let s = trim_end(strip_indent(s));
    if s == b"...additional frames elided..." {
        return Some(None);
    }
    let rest = s.strip_prefix(b"...")?;
    let n = digits(rest);
    let v = parse_dec(&rest[..n])?;
    if &rest[n..] != b" frames elided..." {
        return None;
    }
    Some(Some(u32::try_from(v).unwrap_or(u32::MAX)))
}

pub(crate) fn is_unavailable(s: &[u8]) -> bool {
    trim_end(strip_indent(s)) == b"goroutine running on other thread; stack unavailable"
}

#[inline]
pub(crate) fn trim_end(mut s: &[u8]) -> &[u8] {
    while let Some((&c, r)) = s.split_last() {
        if c.is_ascii_whitespace() {
            s = r;
        } else {
            break;
        }
    }
    s
}

#[inline]
pub(crate) fn is_blank(s: &[u8]) -> bool {
    s.iter().all(|c| c.is_ascii_whitespace())
}

/// What starts a new crash report: the first line of a panic, a fatal error, a fatal signal
/// or a pprof profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkerKind {
    Panic,
    Fatal,
    Signal,
    /// `goroutine profile: total N` (a `debug=1` profile inside a text stream).
    Debug1,
}

/// Signals whose arrival makes the runtime print a goroutine dump (`sigtable` names).
const SIGNALS: &[&[u8]] = &[
    b"QUIT", b"ABRT", b"SEGV", b"BUS", b"ILL", b"TRAP", b"FPE", b"SYS", b"EMT", b"STKFLT", b"KILL",
    b"TERM", b"INT", b"HUP", b"PIPE", b"USR1", b"USR2", b"XCPU", b"XFSZ", b"PWR", b"IOT", b"ALRM",
    b"VTALRM", b"PROF",
];

/// Finds a report marker at the start of `s`.
pub(crate) fn marker_at(s: &[u8]) -> Option<MarkerKind> {
    if s.starts_with(b"panic: ") {
        return Some(MarkerKind::Panic);
    }
    if s.starts_with(b"fatal error: ") {
        return Some(MarkerKind::Fatal);
    }
    if let Some(r) = s.strip_prefix(b"SIG") {
        let n = r
            .iter()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            .count();
        if SIGNALS.contains(&&r[..n]) && r[n..].starts_with(b": ") {
            return Some(MarkerKind::Signal);
        }
    }
    if let Some(p) = memchr::memmem::find(s, b" profile: total ") {
        let name = &s[..p];
        if !name.is_empty()
            && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
            && parse_dec(trim_end(&s[p + 16..])).is_some()
        {
            return Some(MarkerKind::Debug1);
        }
    }
    None
}

/// Finds a marker anywhere in a line: returns its start and kind. Used for lines outside any
/// goroutine, where the log prefix is not known yet.
pub(crate) fn find_marker(s: &[u8]) -> Option<(usize, MarkerKind)> {
    if let Some(k) = marker_at(s) {
        return Some((0, k));
    }
    for pat in [&b"panic: "[..], b"fatal error: ", b"SIG"] {
        let mut from = 0;
        while let Some(p) = memchr::memmem::find(&s[from..], pat) {
            let at = from + p;
            if let Some(k) = marker_at(&s[at..]) {
                return Some((at, k));
            }
            from = at + 1;
        }
    }
    None
}

/// Where a goroutine header starts inside a line (glued to log text, or after a log prefix).
pub(crate) fn find_header(s: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr::memmem::find(&s[from..], b"goroutine ") {
        let at = from + p;
        if s[at + 10..].first().is_some_and(u8::is_ascii_digit) && parse_header(&s[at..]).is_some()
        {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Lines of a crash report that are known and carry nothing we keep: signal details, register
/// dumps, `runtime:` diagnostics, `exit status`.
pub(crate) fn is_known_noise(s: &[u8]) -> bool {
    let t = strip_indent(s);
    if t.starts_with(b"[signal ")
        || t.starts_with(b"PC=")
        || t.starts_with(b"runtime: ")
        || t.starts_with(b"signal arrived during cgo execution")
        || t.starts_with(b"instruction bytes:")
        || t.starts_with(b"exit status ")
        || t.starts_with(b"-----")
        || t.starts_with(b"[recovered")
        || t.starts_with(b"panic: ")
        || t.starts_with(b"fatal error: ")
        || t.starts_with(b"runtime stack:")
        || t.starts_with(b"# [trimmed")
        || is_test_output(t)
    {
        return true;
    }
    is_register(t)
}

/// What `go test` prints around a dump: `FAIL\tpkg\t0.1s`, `--- FAIL: TestX`, `=== RUN`, `ok  \tpkg`.
fn is_test_output(t: &[u8]) -> bool {
    t == b"FAIL"
        || t == b"PASS"
        || t.starts_with(b"FAIL\t")
        || t.starts_with(b"ok  \t")
        || t.starts_with(b"--- FAIL")
        || t.starts_with(b"--- PASS")
        || t.starts_with(b"--- SKIP")
        || t.starts_with(b"=== ")
        || t.starts_with(b"coverage: ")
}

/// `rax    0x0`, `r8     0x1`, `rflags 0x246`, `fault   0x0`, `lr      0x…` (per architecture).
fn is_register(t: &[u8]) -> bool {
    let n = t.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if n == 0 || n > 8 {
        return false;
    }
    let rest = &t[n..];
    let sp = rest.iter().take_while(|&&c| c == b' ').count();
    if sp == 0 {
        return false;
    }
    let v = trim_end(&rest[sp..]);
    v.starts_with(b"0x") && parse_hex(v).is_some()
}

/// A test under a `go test` timeout's `running tests:` line: `TestName/sub (1m0s)` (the
/// indentation already stripped or not); returns the name.
pub(crate) fn parse_running_test(s: &[u8]) -> Option<&[u8]> {
    let t = trim_end(strip_indent(s));
    let open = memchr::memrchr(b'(', t)?;
    if !t.ends_with(b")") || open == 0 || t[open - 1] != b' ' {
        return None;
    }
    let name = &t[..open - 1];
    let dur = &t[open + 1..t.len() - 1];
    // A Go duration: `1s`, `1m0s`, `250ms`, `1.5µs`.
    let is_duration = !dur.is_empty()
        && dur.iter().all(|c| {
            c.is_ascii_digit() || matches!(c, b'.' | b'h' | b'm' | b's' | b'u' | b'n' | 0xc2 | 0xb5)
        });
    let is_test = [&b"Test"[..], b"Example", b"Fuzz", b"Benchmark"]
        .iter()
        .any(|p| name.starts_with(p));
    (is_duration && is_test).then_some(name)
}

/// `WARNING: DATA RACE` (race detector).
pub(crate) fn is_race(s: &[u8]) -> bool {
    memchr::memmem::find(s, b"WARNING: DATA RACE").is_some()
}

/// A Delve `goroutines` listing line: `  Goroutine 1 - User: ./main.go:10 main.main (0x…)`.
pub(crate) fn is_delve(s: &[u8]) -> bool {
    let t = s.strip_prefix(b"*").unwrap_or(s);
    let t = strip_indent(t);
    let Some(r) = t.strip_prefix(b"Goroutine ") else {
        return false;
    };
    let n = digits(r);
    n > 0 && r[n..].starts_with(b" - ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_every_form() {
        let h = parse_header(b"goroutine 1 [running]:").unwrap();
        assert_eq!((h.goid, h.state, h.labels), (1, &b"running"[..], None));
        let h = parse_header(b"goroutine 21 gp=0x208f5a480960 m=nil [chan receive]:").unwrap();
        assert_eq!(
            (h.goid, h.gp, h.m, h.has_gp),
            (21, Some(0x208f5a480960), None, true)
        );
        let h = parse_header(b"goroutine 0 gp=0xac8f20 m=0 mp=0xac9ec0 [idle]:").unwrap();
        assert_eq!((h.goid, h.m, h.state), (0, Some(0), &b"idle"[..]));
        let h = parse_header(
            b"goroutine 22 [chan receive (leaked)] {handler: /api/orders, tenant: \"acme corp\"}:",
        )
        .unwrap();
        assert_eq!(h.state, b"chan receive (leaked)");
        assert_eq!(
            parse_labels(h.labels.unwrap()).unwrap(),
            vec![
                ("handler".into(), "/api/orders".into()),
                ("tenant".into(), "acme corp".into())
            ]
        );
        let h = parse_header(b"goroutine 7 [sleep, 3 minutes, locked to thread]:\r").unwrap();
        assert_eq!(h.state, b"sleep, 3 minutes, locked to thread");
        assert!(parse_header(b"goroutine 1 [running]").is_none());
        assert!(parse_header(b"goroutine profile: total 3").is_none());
        assert!(parse_header(b"goroutine x [running]:").is_none());
        assert!(parse_header(b"goroutine 99999999999999999999999 [running]:").is_none());
    }

    #[test]
    fn quoted_labels_with_escapes_and_braces() {
        let h = parse_header(br#"goroutine 3 [select] {"a b": "x}, \"y\"\n", k: "\u00e9\x41"}:"#)
            .unwrap();
        let l = parse_labels(h.labels.unwrap()).unwrap();
        assert_eq!(l[0], ("a b".into(), "x}, \"y\"\n".into()));
        assert_eq!(l[1], ("k".into(), "éA".into()));
        // Empty strings are printed bare.
        assert_eq!(
            parse_labels(b": v, k: ").unwrap(),
            vec![("".into(), "v".into()), ("k".into(), "".into())]
        );
        assert!(parse_labels(b"k v").is_none());
    }

    #[test]
    fn function_lines() {
        let f = parse_func(b"main.main()").unwrap();
        assert_eq!((f.name, f.args), (&b"main.main"[..], &b""[..]));
        let f =
            parse_func(b"gopkg.in/yaml%2ev2.(*decoder).unmarshal(0xc000, {0x1?, 0x2})").unwrap();
        assert_eq!(f.name, b"gopkg.in/yaml%2ev2.(*decoder).unmarshal");
        let f = parse_func(b"main.Map[...](...)").unwrap();
        assert_eq!((f.name, f.args), (&b"main.Map[...]"[..], &b"..."[..]));
        let f = parse_func(b"example.com/x.(*List[go.shape.struct { A int }]).Push(0x1)").unwrap();
        assert_eq!(
            f.name,
            b"example.com/x.(*List[go.shape.struct { A int }]).Push"
        );
        let f = parse_func(b"github.com/!azure/sdk@v1.2.3/x.f(...)").unwrap();
        assert_eq!(f.name, b"github.com/!azure/sdk@v1.2.3/x.f");
        assert!(parse_func(b"\tTask tid: 46 (0x2e), entered").is_none());
        assert!(parse_func(b"some text (foo)").is_none());
        assert!(parse_func(b"()").is_none());
    }

    #[test]
    fn file_lines() {
        let f = parse_file(
            b"\truntime/proc.go:474 +0xca fp=0x208f5a3f7cb8 sp=0x208f5a3f7c98 pc=0x48c20a",
        )
        .unwrap();
        assert_eq!(
            (f.path, f.line, f.offset),
            (&b"runtime/proc.go"[..], 474, Some(0xca))
        );
        assert_eq!(f.key, b"runtime/proc.go:474 +0xca");
        let f = parse_file(b"\texample.com/gosamples/main.go:80").unwrap();
        assert_eq!((f.line, f.offset), (80, None));
        let f = parse_file(b"        /home/x y/a.go:12 +0x1").unwrap();
        assert_eq!(f.path, b"/home/x y/a.go");
        let f = parse_file(b"#011C:/go/src/a.go:7 +0x2").unwrap();
        assert_eq!(f.path, b"C:/go/src/a.go");
        let f = parse_file(b"/home/sdk/goroot/go/src/runtime/panic.go:619 +0x81").unwrap();
        assert_eq!(f.line, 619);
        assert!(parse_file(b"main.main()").is_none());
        assert!(parse_file(b"\tfoo.go:").is_none());
        assert!(parse_file(b"\tfoo.go:12 +0xzz").is_none());
    }

    #[test]
    fn tails_and_markers() {
        assert_eq!(
            parse_created_by(b"created by main.main in goroutine 1"),
            Some((&b"main.main"[..], Some(1)))
        );
        assert_eq!(
            parse_created_by(b"created by main.d1"),
            Some((&b"main.d1"[..], None))
        );
        assert_eq!(
            parse_ancestor(b"[originating from goroutine 24]:"),
            Some(24)
        );
        assert_eq!(parse_elided(b"...additional frames elided..."), Some(None));
        assert_eq!(parse_elided(b"...12 frames elided..."), Some(Some(12)));
        assert!(is_unavailable(
            b"\tgoroutine running on other thread; stack unavailable"
        ));
        assert_eq!(marker_at(b"panic: boom"), Some(MarkerKind::Panic));
        assert_eq!(marker_at(b"SIGQUIT: quit"), Some(MarkerKind::Signal));
        assert_eq!(
            marker_at(b"goroutineleak profile: total 3"),
            Some(MarkerKind::Debug1)
        );
        assert_eq!(
            find_marker(b"^\\SIGQUIT: quit"),
            Some((2, MarkerKind::Signal))
        );
        assert_eq!(find_marker(b"SIGNAL: x"), None);
        assert_eq!(
            find_header(b"dumping all stacksgoroutine 1 [running]:"),
            Some(18)
        );
        assert!(is_known_noise(b"rax    0x104"));
        assert!(is_known_noise(b"rflags 0x203"));
        assert!(is_known_noise(b"PC=0x494ca3 m=0 sigcode=0"));
        assert!(!is_known_noise(b"hello world"));
        assert!(is_delve(
            b"* Goroutine 1 - User: ./main.go:10 main.main (0x4a0b5e) [chan receive]"
        ));
    }
}
