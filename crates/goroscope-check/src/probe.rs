//! Taking one snapshot of the target: over HTTP pprof, or from a process's memory.

use crate::error::CheckError;
use crate::redact::shown;
use goroscope_attach::{AttachError, AttachOptions};
use goroscope_model::redact_urls_in;
use goroscope_model::Snapshot;
use std::time::SystemTime;

/// A source of snapshots of one service.
pub trait Probe {
    /// A fresh snapshot.
    fn snapshot(&mut self) -> Result<Snapshot, CheckError>;
    /// How reports name it (no credentials).
    fn name(&self) -> String;
}

/// `GET /debug/pprof/goroutine?debug=2` (the URL is completed by the ingest reader).
pub struct UrlProbe {
    url: String,
    opts: goroscope_ingest::Options,
}

impl UrlProbe {
    pub fn new(url: &str, opts: &goroscope_ingest::Options) -> UrlProbe {
        UrlProbe {
            url: url.to_string(),
            opts: opts.clone(),
        }
    }
}

impl Probe for UrlProbe {
    fn snapshot(&mut self) -> Result<Snapshot, CheckError> {
        let err = |message: String| CheckError::Probe {
            target: shown(&self.url),
            message,
        };
        // Rebuild the message from the reader's error without its input (the target is named
        // once, redacted), and redact any URL the message quotes.
        let mut snaps = goroscope_ingest::read_input(&self.url, &self.opts).map_err(|e| {
            let at = match (e.line(), e.offset()) {
                (Some(l), _) => format!("line {l}: "),
                (None, Some(o)) => format!("byte {o}: "),
                _ => String::new(),
            };
            // The reader's message never repeats its cause (chained as the source): add it.
            let mut message = format!("{at}{}", e.message());
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(": ");
                message.push_str(&c.to_string());
                cause = c.source();
            }
            err(redact_urls_in(&message).into_owned())
        })?;
        if snaps.len() != 1 {
            return Err(err(format!(
                "expected one goroutine dump, got {}",
                snaps.len()
            )));
        }
        let mut s = snaps.pop().expect("one snapshot");
        s.source.input = shown(&self.url);
        s.taken_at.get_or_insert_with(SystemTime::now);
        Ok(s)
    }

    fn name(&self) -> String {
        shown(&self.url)
    }
}

/// Reads a live process's goroutines from memory (`goroscope attach`).
pub struct PidProbe {
    pid: u32,
    opts: AttachOptions,
}

impl PidProbe {
    pub fn new(pid: u32, opts: &AttachOptions) -> PidProbe {
        PidProbe {
            pid,
            opts: opts.clone(),
        }
    }
}

impl Probe for PidProbe {
    fn snapshot(&mut self) -> Result<Snapshot, CheckError> {
        goroscope_attach::attach_pid(self.pid, &self.opts).map_err(|e| CheckError::Probe {
            target: format!("pid {}", self.pid),
            message: e.to_string(),
        })
    }

    fn name(&self) -> String {
        format!("pid {}", self.pid)
    }
}

/// The Go program among `root` and its descendants (breadth first): a shell running the
/// service is looked through. `Ok(None)`: none yet (the shell has not started it).
pub(crate) fn find_go_process(root: u32, opts: &AttachOptions) -> Result<Option<u32>, String> {
    let mut queue = vec![root];
    let mut seen = 0;
    while let Some(pid) = (!queue.is_empty()).then(|| queue.remove(0)) {
        seen += 1;
        if seen > 1000 {
            break;
        }
        match goroscope_attach::attach_pid(pid, opts) {
            Ok(_) => return Ok(Some(pid)),
            Err(AttachError::NotGo { .. })
            | Err(AttachError::NoProcess { .. })
            | Err(AttachError::Exited { .. }) => {}
            Err(e) => return Err(format!("pid {pid}: {e}")),
        }
        queue.extend(crate::process::children(pid));
    }
    Ok(None)
}

#[cfg(test)]
pub(crate) mod fake {
    //! Scripted snapshots for tests of the settle loop and the decision.

    use super::*;
    use std::collections::VecDeque;

    /// A debug=2 dump with `n` goroutines per (function, wait reason, creator) spec, plus
    /// main and an accept loop.
    pub fn dump(specs: &[(&str, &str, u64)]) -> Snapshot {
        let mut text = String::from(
            "goroutine 1 [select (no cases)]:\nmain.main()\n\t/src/svc/main.go:50 +0x1d\n\n\
             goroutine 6 [IO wait]:\ninternal/poll.runtime_pollWait(0x7f, 0x72)\n\t/go/src/runtime/netpoll.go:351 +0x85\n\
             internal/poll.(*FD).Accept(0xc000100000)\n\t/go/src/internal/poll/fd_unix.go:613 +0x28a\n\
             net.(*TCPListener).Accept(0xc000010000)\n\t/go/src/net/tcpsock.go:380 +0x30\n\
             net/http.(*Server).Serve(0xc000120000, {0x6c, 0xc000010000})\n\t/go/src/net/http/server.go:3424 +0x30c\n\
             created by main.main in goroutine 1\n\t/src/svc/main.go:40 +0x65\n\n",
        );
        let mut id = 100;
        for &(func, reason, n) in specs {
            for _ in 0..n {
                id += 1;
                text.push_str(&format!(
                    "goroutine {id} [{reason}]:\n{func}(0xc000012000)\n\t/src/svc/main.go:27 +0x45\ncreated by main.handle in goroutine 7\n\t/src/svc/main.go:33 +0x6f\n\n"
                ));
            }
        }
        let mut snaps = goroscope_ingest::read_reader(
            "fake",
            std::io::Cursor::new(text),
            &goroscope_ingest::Options::default(),
        )
        .expect("a valid dump");
        snaps.pop().expect("one dump")
    }

    pub struct Scripted {
        pub snaps: VecDeque<Snapshot>,
        /// Served again once the script is used up.
        pub last: Option<Snapshot>,
        pub taken: u32,
    }

    impl Scripted {
        pub fn new(snaps: Vec<Snapshot>) -> Scripted {
            Scripted {
                snaps: snaps.into(),
                last: None,
                taken: 0,
            }
        }
    }

    impl Probe for Scripted {
        fn snapshot(&mut self) -> Result<Snapshot, CheckError> {
            self.taken += 1;
            if let Some(s) = self.snaps.pop_front() {
                self.last = Some(s.clone());
                return Ok(s);
            }
            self.last.clone().ok_or_else(|| CheckError::Probe {
                target: "fake".into(),
                message: "no snapshot scripted".into(),
            })
        }
        fn name(&self) -> String {
            "fake".into()
        }
    }
}
