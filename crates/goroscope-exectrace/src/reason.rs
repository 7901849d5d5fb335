//! From the trace's block reasons to the wait reasons a goroutine dump prints.
//!
//! The runtime records a `traceBlockReason` beside the `waitReason` when a goroutine parks
//! (`gopark(…, waitReasonChanReceive, traceBlockChanRecv, …)`); several wait reasons share one
//! trace reason (`sync` covers mutexes, wait groups and plain semaphores; `forever` covers
//! `select {}` and nil channels), and a goroutine that was blocked before the trace began has
//! only its stack. The stack, innermost frame first, tells them apart.

/// The wait reason a dump would print, from the trace's reason and the goroutine's stack
/// (function names, innermost first); `minor` is the trace's Go minor version.
pub fn dump_wait_reason<'a, I>(trace_reason: &str, functions: I, minor: u32) -> String
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    let fns = functions.into_iter();
    let fixed = match trace_reason {
        "chan receive"
        | "chan send"
        | "select"
        | "sleep"
        | "preempted"
        | "GC weak to strong wait" => Some(trace_reason),
        "network" => Some("IO wait"),
        "sync.(*Cond).Wait" => Some("sync.Cond.Wait"),
        "GC mark assist wait for work" => Some("GC assist wait"),
        "GC background sweeper wait" => Some("GC sweep wait"),
        "wait until GC ends" => Some("wait for GC cycle"),
        "wait for debug call" => Some("debug call"),
        _ => None,
    };
    if let Some(r) = fixed {
        return r.to_owned();
    }
    match trace_reason {
        "forever" => forever(fns).to_owned(),
        "sync" => sync(fns, minor).unwrap_or("semacquire").to_owned(),
        "system goroutine wait" => system(fns).unwrap_or("waiting").to_owned(),
        "synctest" => {
            if fns.clone().any(|f| f.ends_with("synctest.Wait")) {
                "synctest.Wait".into()
            } else {
                "synctest.Run".into()
            }
        }
        // No reason (a status event) or an unspecified one: the stack is all there is.
        "" | "unspecified" => from_stack(fns, minor)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if trace_reason.is_empty() {
                    "waiting".into()
                } else {
                    trace_reason.to_owned()
                }
            }),
        other => other.to_owned(),
    }
}

fn forever<'a>(mut fns: impl Iterator<Item = &'a str>) -> &'static str {
    for f in fns.by_ref().take(4) {
        match f {
            "runtime.block" => return "select (no cases)",
            "runtime.chansend" | "runtime.chansend1" => return "chan send (nil chan)",
            "runtime.chanrecv" | "runtime.chanrecv1" | "runtime.chanrecv2" => {
                return "chan receive (nil chan)"
            }
            _ => {}
        }
    }
    "panicwait"
}

/// The innermost `sync` function that parked decides (an `RWMutex.Lock` waiting on its inner
/// mutex is a `sync.Mutex.Lock` wait, as the runtime words it).
fn sync<'a>(fns: impl Iterator<Item = &'a str>, minor: u32) -> Option<&'static str> {
    for f in fns.take(8) {
        let f = f.strip_prefix("internal/").unwrap_or(f);
        match f {
            "sync.(*Mutex).Lock" | "sync.(*Mutex).lockSlow" | "sync.runtime_SemacquireMutex" => {
                return Some("sync.Mutex.Lock")
            }
            "sync.(*RWMutex).RLock" | "sync.runtime_SemacquireRWMutexR" => {
                return Some("sync.RWMutex.RLock")
            }
            "sync.(*RWMutex).Lock" | "sync.runtime_SemacquireRWMutex" => {
                return Some("sync.RWMutex.Lock")
            }
            "sync.(*WaitGroup).Wait" | "sync.runtime_SemacquireWaitGroup" => {
                return Some(if minor >= 25 {
                    "sync.WaitGroup.Wait"
                } else {
                    "semacquire"
                })
            }
            _ => {}
        }
    }
    None
}

fn system<'a>(fns: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    for f in fns {
        let r = match f {
            "runtime.gcBgMarkWorker" => "GC worker (idle)",
            "runtime.runfinq" | "runtime.runFinalizers" => "finalizer wait",
            "runtime.forcegchelper" => "force gc (idle)",
            "runtime.bgscavenge" | "runtime.(*scavengerState).park" => "GC scavenge wait",
            "runtime.bgsweep" => "GC sweep wait",
            "runtime.ReadTrace" | "runtime.traceReader" => "trace reader (blocked)",
            "runtime.(*cleanupQueue).dequeue" | "runtime.runCleanups" => "cleanup wait",
            "runtime.updateMaxProcsGoroutine" => "GOMAXPROCS updater (idle)",
            _ => continue,
        };
        return Some(r);
    }
    None
}

/// A status stack includes the runtime's own frames (`runtime.gopark`, `runtime.chanrecv`…).
fn from_stack<'a, I>(fns: I, minor: u32) -> Option<&'static str>
where
    I: Iterator<Item = &'a str> + Clone,
{
    for f in fns.clone().take(6) {
        let r = match f {
            "runtime.chanrecv" | "runtime.chanrecv1" | "runtime.chanrecv2" => "chan receive",
            "runtime.chansend" | "runtime.chansend1" => "chan send",
            "runtime.selectgo" => "select",
            "runtime.block" => "select (no cases)",
            "runtime.netpollblock" | "internal/poll.runtime_pollWait" => "IO wait",
            "time.Sleep" | "runtime.timeSleep" => "sleep",
            "sync.runtime_notifyListWait" | "sync.(*Cond).Wait" => "sync.Cond.Wait",
            "runtime.semacquire1" | "sync.runtime_Semacquire" => {
                return sync(fns, minor).or(Some("semacquire"))
            }
            _ => {
                if let Some(s) = sync(std::iter::once(f), minor) {
                    return Some(s);
                }
                continue;
            }
        };
        return Some(r);
    }
    system(fns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(reason: &str, fns: &[&str], minor: u32) -> String {
        dump_wait_reason(reason, fns.iter().copied(), minor)
    }

    #[test]
    fn direct_reasons() {
        assert_eq!(r("chan receive", &["main.f"], 26), "chan receive");
        assert_eq!(r("network", &[], 26), "IO wait");
        assert_eq!(r("sync.(*Cond).Wait", &[], 23), "sync.Cond.Wait");
        assert_eq!(r("frobnicate", &[], 26), "frobnicate");
    }

    #[test]
    fn forever_and_sync_use_the_stack() {
        assert_eq!(
            r("forever", &["runtime.block", "main.f"], 26),
            "select (no cases)"
        );
        assert_eq!(
            r("forever", &["runtime.chansend1", "main.f"], 26),
            "chan send (nil chan)"
        );
        assert_eq!(
            r("forever", &["runtime.chanrecv1", "main.f"], 26),
            "chan receive (nil chan)"
        );
        assert_eq!(
            r("sync", &["sync.(*Mutex).Lock", "main.f"], 26),
            "sync.Mutex.Lock"
        );
        assert_eq!(
            r(
                "sync",
                &["internal/sync.(*Mutex).lockSlow", "sync.(*RWMutex).Lock"],
                26
            ),
            "sync.Mutex.Lock"
        );
        assert_eq!(
            r("sync", &["sync.(*WaitGroup).Wait"], 26),
            "sync.WaitGroup.Wait"
        );
        assert_eq!(r("sync", &["sync.(*WaitGroup).Wait"], 23), "semacquire");
        assert_eq!(r("sync", &["main.f"], 26), "semacquire");
    }

    #[test]
    fn status_stacks() {
        let st = [
            "runtime.gopark",
            "runtime.chanrecv",
            "runtime.chanrecv1",
            "main.f",
        ];
        assert_eq!(r("", &st, 26), "chan receive");
        let gc = [
            "runtime.gopark",
            "runtime.goparkunlock",
            "runtime.forcegchelper",
        ];
        assert_eq!(r("", &gc, 26), "force gc (idle)");
        assert_eq!(r("", &["main.f"], 26), "waiting");
    }
}
