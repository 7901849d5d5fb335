//! Puts the events of a generation's threads into one order, emulating the scheduler.
//!
//! Each thread (M) writes its own batches; timestamps across threads may disagree, so the
//! runtime's parser (`internal/trace/order.go`) orders events by a partial order instead: an
//! event that names another resource with a sequence number (a goroutine started or unblocked,
//! a proc started or stolen, a GC cycle) may only be taken once that resource has reached the
//! preceding step. This is the same algorithm, restricted to what decides the order: the
//! scheduler states of goroutines, procs and threads, and the GC sequence. Checks that only
//! validate (user regions, tasks, special ranges) are left out, so a trace the runtime's parser
//! would reject for those reasons is read all the same.

use crate::event::*;
use crate::wire::*;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// A timed event as decoded from a batch (arguments after the timestamp delta).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Raw {
    pub typ: u8,
    pub time: i64,
    pub args: [u64; 4],
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Seq {
    gen: u64,
    n: u64,
}

impl Seq {
    fn new(gen: u64, n: u64) -> Seq {
        Seq { gen, n }
    }
    fn succeeds(self, prev: Seq) -> bool {
        self.gen == prev.gen && self.n == prev.n.wrapping_add(1)
    }
}

// Wire statuses.
const G_RUNNABLE: u8 = 1;
const G_RUNNING: u8 = 2;
const G_SYSCALL: u8 = 3;
const G_WAITING: u8 = 4;
const P_RUNNING: u8 = 1;
const P_IDLE: u8 = 2;
const P_SYSCALL: u8 = 3;
const P_SYSCALL_ABANDONED: u8 = 4;

fn proc_state(status: u8) -> ProcState {
    match status {
        P_RUNNING | P_SYSCALL => ProcState::Running,
        _ => ProcState::Idle,
    }
}

#[derive(Debug, Clone, Copy)]
struct GState {
    status: u8,
    seq: Seq,
}

#[derive(Debug, Clone, Copy)]
struct PState {
    status: u8,
    seq: Seq,
}

#[derive(Debug, Clone, Copy)]
struct MState {
    g: u64,
    p: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gc {
    Undetermined,
    NotRunning,
    Running,
}

#[derive(Debug, Clone, Copy)]
struct Ctx {
    g: u64,
    p: u64,
    m: u64,
}

/// The scheduler emulation; advancing an event queues it (and any events it implies).
pub(crate) struct Ordering {
    g: FxHashMap<u64, GState>,
    p: FxHashMap<u64, PState>,
    m: FxHashMap<u64, MState>,
    gc_seq: u64,
    gc: Gc,
    initial_gen: u64,
    pub queue: VecDeque<Event>,
}

type Step = Result<Option<Ctx>, String>;

fn need(ctx: Ctx, m: Need, p: Need, g: Need) -> Result<(), String> {
    fn check(v: u64, n: Need, what: &str) -> Result<(), String> {
        match n {
            Need::Have if v == NONE => Err(format!("expected a {what} but had none")),
            Need::Not if v != NONE => Err(format!("expected no {what} but had {v}")),
            _ => Ok(()),
        }
    }
    check(ctx.m, m, "thread")?;
    check(ctx.p, p, "proc")?;
    check(ctx.g, g, "goroutine")
}

#[derive(Clone, Copy)]
enum Need {
    Have,
    May,
    Not,
}
use Need::*;

fn user_go(ctx: Ctx) -> Result<(), String> {
    need(ctx, Have, Have, Have)
}

impl Ordering {
    pub fn new() -> Self {
        Ordering {
            g: FxHashMap::default(),
            p: FxHashMap::default(),
            m: FxHashMap::default(),
            gc_seq: 0,
            gc: Gc::Undetermined,
            initial_gen: 0,
            queue: VecDeque::new(),
        }
    }

    fn push(&mut self, time: i64, ctx: Ctx, kind: EventKind) {
        self.queue.push_back(Event {
            time,
            g: ctx.g,
            p: ctx.p,
            m: ctx.m,
            kind,
        });
    }

    fn go(&mut self, time: i64, ctx: Ctx, goid: u64, from: GoState, to: GoState) {
        self.push(
            time,
            ctx,
            EventKind::Goroutine(GoTransition {
                goid,
                from,
                to,
                reason: StrRef(0),
                stack: StackRef(0),
                creator_stack: StackRef(0),
            }),
        );
    }

    /// Tries to take `ev` from thread `m` of generation `gen`: `Ok(true)` when it (and what it
    /// implies) was queued, `Ok(false)` when it must wait for another thread's events, an
    /// error when the trace is inconsistent.
    pub fn advance(&mut self, ev: &Raw, m: u64, gen: u64) -> Result<bool, String> {
        if self.initial_gen == 0 {
            self.initial_gen = gen;
        }
        let cur = if m == NONE {
            Ctx {
                g: NONE,
                p: NONE,
                m,
            }
        } else {
            let ms = self.m.entry(m).or_insert(MState { g: NONE, p: NONE });
            Ctx {
                g: ms.g,
                p: ms.p,
                m,
            }
        };
        let new = match ev.typ {
            EV_PROCS_CHANGE
            | EV_GO_LABEL
            | EV_USER_LOG
            | EV_USER_TASK_BEGIN
            | EV_USER_TASK_END
            | EV_USER_REGION_BEGIN
            | EV_USER_REGION_END
            | EV_STW_BEGIN
            | EV_STW_END
            | EV_GC_MARK_ASSIST_BEGIN
            | EV_GC_MARK_ASSIST_END => {
                user_go(cur)?;
                self.other(ev, cur)
            }
            EV_HEAP_ALLOC | EV_HEAP_GOAL | EV_GC_SWEEP_BEGIN | EV_GC_SWEEP_END => {
                need(cur, Have, Have, May)?;
                self.other(ev, cur)
            }
            EV_GC_SWEEP_ACTIVE | EV_GC_MARK_ASSIST_ACTIVE => self.other(ev, cur),
            EV_EXPERIMENTAL_FIRST..=EV_EXPERIMENTAL_LAST => {
                need(cur, Have, May, May)?;
                self.other(ev, cur)
            }
            EV_PROC_STATUS => self.proc_status(ev, cur, gen),
            EV_PROC_START => self.proc_start(ev, cur, gen),
            EV_PROC_STOP => self.proc_stop(ev, cur),
            EV_PROC_STEAL => self.proc_steal(ev, cur, gen),
            EV_GO_STATUS | EV_GO_STATUS_STACK => self.go_status(ev, cur, gen),
            EV_GO_CREATE | EV_GO_CREATE_BLOCKED => self.go_create(ev, cur, gen),
            EV_GO_DESTROY | EV_GO_STOP | EV_GO_BLOCK => self.go_stop_exec(ev, cur),
            EV_GO_START => self.go_start(ev, cur, gen),
            EV_GO_UNBLOCK => self.go_unblock(ev, cur, gen),
            EV_GO_SWITCH | EV_GO_SWITCH_DESTROY => self.go_switch(ev, cur, gen),
            EV_GO_SYSCALL_BEGIN => self.syscall_begin(ev, cur, gen),
            EV_GO_SYSCALL_END => self.syscall_end(ev, cur),
            EV_GO_SYSCALL_END_BLOCKED => self.syscall_end_blocked(ev, cur),
            EV_GO_CREATE_SYSCALL => self.go_create_syscall(ev, cur, gen),
            EV_GO_DESTROY_SYSCALL => self.go_destroy_syscall(ev, cur),
            EV_GC_ACTIVE => self.gc_active(ev, cur, gen),
            EV_GC_BEGIN => self.gc_begin(ev, cur),
            EV_GC_END => self.gc_end(ev, cur),
            t => Err(format!(
                "event type {t} ({}) in an event batch",
                event_name(t)
            )),
        }?;
        let Some(new) = new else { return Ok(false) };
        if m != NONE {
            if let Some(ms) = self.m.get_mut(&m) {
                ms.g = new.g;
                ms.p = new.p;
            }
        }
        Ok(true)
    }

    fn other(&mut self, ev: &Raw, cur: Ctx) -> Step {
        self.push(ev.time, cur, EventKind::Other { typ: ev.typ });
        Ok(Some(cur))
    }

    fn proc_status(&mut self, ev: &Raw, mut cur: Ctx, gen: u64) -> Step {
        let pid = ev.args[0];
        let status = ev.args[1];
        if !(1..=4).contains(&status) {
            return Err(format!("invalid status {status} for proc {pid}"));
        }
        let status = status as u8;
        let mut to_status = status;
        let mut old = proc_state(status);
        match self.p.get_mut(&pid) {
            Some(s) => {
                if status == P_SYSCALL_ABANDONED && s.status == P_SYSCALL {
                    old = ProcState::Running;
                    to_status = P_SYSCALL;
                } else if status == P_SYSCALL_ABANDONED && s.status == P_SYSCALL_ABANDONED {
                    old = ProcState::Idle;
                } else if s.status != status {
                    return Err(format!(
                        "inconsistent status for proc {pid}: old {} vs. new {status}",
                        s.status
                    ));
                }
                s.seq = Seq::new(gen, 0);
            }
            None => {
                self.p.insert(
                    pid,
                    PState {
                        status,
                        seq: Seq::new(gen, 0),
                    },
                );
                old = if gen == self.initial_gen {
                    ProcState::Undetermined
                } else {
                    ProcState::NotExist
                };
            }
        }
        let new_state = proc_state(to_status);
        let mut new = cur;
        if status == P_RUNNING || status == P_SYSCALL {
            new.p = pid;
        }
        if status == P_SYSCALL_ABANDONED && old == ProcState::Running {
            // The P is about to be stolen; emit its status in the context it is bound to.
            let mut found = false;
            for (&mid, ms) in &self.m {
                if ms.p == pid {
                    cur = Ctx {
                        g: ms.g,
                        p: pid,
                        m: mid,
                    };
                    found = true;
                }
            }
            if !found {
                return Err(format!(
                    "no thread for proc {pid}, which is about to be stolen"
                ));
            }
        }
        self.push(
            ev.time,
            cur,
            EventKind::Proc {
                id: pid,
                from: old,
                to: new_state,
            },
        );
        Ok(Some(new))
    }

    fn proc_start(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        let pid = ev.args[0];
        let seq = Seq::new(gen, ev.args[1]);
        match self.p.get(&pid) {
            Some(s) if s.status == P_IDLE && seq.succeeds(s.seq) && cur.p == NONE => {}
            _ => return Ok(None),
        }
        need(cur, Have, Not, May)?;
        let s = self.p.get_mut(&pid).expect("checked above");
        s.status = P_RUNNING;
        s.seq = seq;
        self.push(
            ev.time,
            cur,
            EventKind::Proc {
                id: pid,
                from: ProcState::Idle,
                to: ProcState::Running,
            },
        );
        Ok(Some(Ctx { p: pid, ..cur }))
    }

    fn proc_stop(&mut self, ev: &Raw, cur: Ctx) -> Step {
        let Some(s) = self.p.get_mut(&cur.p) else {
            return Err(format!(
                "ProcStop for proc {} that does not exist",
                cur.p as i64
            ));
        };
        if s.status != P_RUNNING && s.status != P_SYSCALL {
            return Err("ProcStop for a proc that is not running or in a syscall".into());
        }
        need(cur, Have, Have, May)?;
        s.status = P_IDLE;
        self.push(
            ev.time,
            cur,
            EventKind::Proc {
                id: cur.p,
                from: ProcState::Running,
                to: ProcState::Idle,
            },
        );
        Ok(Some(Ctx { p: NONE, ..cur }))
    }

    fn proc_steal(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        let pid = ev.args[0];
        let seq = Seq::new(gen, ev.args[1]);
        let old_status = match self.p.get(&pid) {
            Some(s)
                if (s.status == P_SYSCALL || s.status == P_SYSCALL_ABANDONED)
                    && seq.succeeds(s.seq) =>
            {
                s.status
            }
            _ => return Ok(None),
        };
        need(cur, Have, May, May)?;
        let s = self.p.get_mut(&pid).expect("checked above");
        s.status = P_IDLE;
        s.seq = seq;
        let from = if old_status == P_SYSCALL_ABANDONED {
            ProcState::Idle
        } else {
            ProcState::Running
        };
        let kind = EventKind::Proc {
            id: pid,
            from,
            to: ProcState::Idle,
        };
        if old_status == P_SYSCALL_ABANDONED {
            self.push(ev.time, cur, kind);
            return Ok(Some(cur));
        }
        let mid = ev.args[2];
        let mut new = cur;
        if mid == cur.m {
            if cur.p != pid {
                return Err(format!(
                    "tried to self-steal proc {pid} (thread {mid}), but got proc {}",
                    cur.p as i64
                ));
            }
            new.p = NONE;
            self.push(ev.time, cur, kind);
            return Ok(Some(new));
        }
        let Some(ms) = self.m.get_mut(&mid) else {
            return Err(format!(
                "stole proc {pid} from thread {mid}, which does not exist"
            ));
        };
        if ms.p != pid {
            return Err(format!(
                "tried to steal proc {pid} from thread {mid}, but it has proc {}",
                ms.p as i64
            ));
        }
        ms.p = NONE;
        self.push(ev.time, cur, kind);
        Ok(Some(new))
    }

    fn go_status(&mut self, ev: &Raw, mut cur: Ctx, gen: u64) -> Step {
        let gid = ev.args[0];
        let mid = ev.args[1];
        let status = ev.args[2];
        let Some(to) = GoState::from_wire(status) else {
            return Err(format!("invalid status {status} for goroutine {gid}"));
        };
        let status = status as u8;
        let from;
        match self.g.get_mut(&gid) {
            Some(s) => {
                if s.status != status {
                    return Err(format!(
                        "inconsistent status for goroutine {gid}: old {} vs. new {status}",
                        s.status
                    ));
                }
                s.seq = Seq::new(gen, 0);
                from = to;
            }
            None if gen == self.initial_gen => {
                self.g.insert(
                    gid,
                    GState {
                        status,
                        seq: Seq::new(gen, 0),
                    },
                );
                from = GoState::Undetermined;
            }
            None => {
                return Err(format!(
                    "status of goroutine {gid} after the first generation, but no creation"
                ))
            }
        }
        let mut new = cur;
        match status {
            G_RUNNING => new.g = gid,
            G_SYSCALL => {
                if mid == NONE {
                    return Err(format!("goroutine {gid} in a syscall without a thread"));
                }
                if mid == cur.m {
                    if gen != self.initial_gen && cur.g != gid {
                        return Err(format!(
                            "inconsistent thread for syscalling goroutine {gid}: thread has goroutine {}",
                            cur.g as i64
                        ));
                    }
                    new.g = gid;
                } else {
                    match self.m.get(&mid) {
                        Some(ms) => {
                            if ms.g != gid {
                                return Err(format!(
                                    "inconsistent thread for syscalling goroutine {gid}: thread has goroutine {}",
                                    ms.g as i64
                                ));
                            }
                            cur.g = ms.g;
                        }
                        None => {
                            self.m.insert(mid, MState { g: gid, p: NONE });
                        }
                    }
                    cur.m = mid;
                }
            }
            _ => {}
        }
        let stack = if ev.typ == EV_GO_STATUS_STACK {
            StackRef(ev.args[3])
        } else {
            StackRef(0)
        };
        self.push(
            ev.time,
            cur,
            EventKind::Goroutine(GoTransition {
                goid: gid,
                from,
                to,
                reason: StrRef(0),
                stack,
                creator_stack: StackRef(0),
            }),
        );
        Ok(Some(new))
    }

    fn go_create(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        need(cur, Have, Have, May)?;
        if let Some(s) = self.g.get(&cur.g) {
            if s.status != G_RUNNING {
                return Err(format!(
                    "{} by goroutine {} that is not running",
                    event_name(ev.typ),
                    cur.g
                ));
            }
        }
        let newg = ev.args[0];
        if self.g.contains_key(&newg) {
            return Err(format!("goroutine {newg} created twice"));
        }
        let (status, to) = if ev.typ == EV_GO_CREATE_BLOCKED {
            (G_WAITING, GoState::Waiting)
        } else {
            (G_RUNNABLE, GoState::Runnable)
        };
        self.g.insert(
            newg,
            GState {
                status,
                seq: Seq::new(gen, 0),
            },
        );
        self.push(
            ev.time,
            cur,
            EventKind::Goroutine(GoTransition {
                goid: newg,
                from: GoState::NotExist,
                to,
                reason: StrRef(0),
                stack: StackRef(ev.args[1]),
                creator_stack: StackRef(ev.args[2]),
            }),
        );
        Ok(Some(cur))
    }

    fn running_g(&mut self, cur: Ctx, typ: u8, want: u8) -> Result<&mut GState, String> {
        user_go(cur).map_err(|e| format!("{}: {e}", event_name(typ)))?;
        let s = self.g.get_mut(&cur.g).ok_or_else(|| {
            format!(
                "{} for goroutine {} that does not exist",
                event_name(typ),
                cur.g
            )
        })?;
        if s.status != want {
            return Err(format!(
                "{} for goroutine {} in state {} (want {want})",
                event_name(typ),
                cur.g,
                s.status
            ));
        }
        Ok(s)
    }

    fn go_stop_exec(&mut self, ev: &Raw, cur: Ctx) -> Step {
        let gid = cur.g;
        let s = self.running_g(cur, ev.typ, G_RUNNING)?;
        let (to, reason, stack) = match ev.typ {
            EV_GO_DESTROY => {
                self.g.remove(&gid);
                (GoState::NotExist, StrRef(0), StackRef(0))
            }
            EV_GO_STOP => {
                s.status = G_RUNNABLE;
                (GoState::Runnable, StrRef(ev.args[0]), StackRef(ev.args[1]))
            }
            _ => {
                s.status = G_WAITING;
                (GoState::Waiting, StrRef(ev.args[0]), StackRef(ev.args[1]))
            }
        };
        self.push(
            ev.time,
            cur,
            EventKind::Goroutine(GoTransition {
                goid: gid,
                from: GoState::Running,
                to,
                reason,
                stack,
                creator_stack: StackRef(0),
            }),
        );
        Ok(Some(Ctx { g: NONE, ..cur }))
    }

    fn go_start(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        let gid = ev.args[0];
        let seq = Seq::new(gen, ev.args[1]);
        match self.g.get(&gid) {
            Some(s) if s.status == G_RUNNABLE && seq.succeeds(s.seq) => {}
            _ => return Ok(None),
        }
        need(cur, Have, Have, Not).map_err(|e| format!("GoStart of goroutine {gid}: {e}"))?;
        let s = self.g.get_mut(&gid).expect("checked above");
        s.status = G_RUNNING;
        s.seq = seq;
        self.go(ev.time, cur, gid, GoState::Runnable, GoState::Running);
        Ok(Some(Ctx { g: gid, ..cur }))
    }

    fn go_unblock(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        let gid = ev.args[0];
        let seq = Seq::new(gen, ev.args[1]);
        match self.g.get_mut(&gid) {
            Some(s) if s.status == G_WAITING && seq.succeeds(s.seq) => {
                s.status = G_RUNNABLE;
                s.seq = seq;
            }
            _ => return Ok(None),
        }
        self.go(ev.time, cur, gid, GoState::Waiting, GoState::Runnable);
        Ok(Some(cur))
    }

    fn go_switch(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        let curg = cur.g;
        self.running_g(cur, ev.typ, G_RUNNING)?;
        let next = ev.args[0];
        let seq = Seq::new(gen, ev.args[1]);
        match self.g.get(&next) {
            Some(s) if s.status == G_WAITING && seq.succeeds(s.seq) => {}
            _ => return Ok(None),
        }
        // An unblock of the next goroutine…
        self.go(ev.time, cur, next, GoState::Waiting, GoState::Runnable);
        // …a block or exit of the current one…
        if ev.typ == EV_GO_SWITCH {
            if let Some(s) = self.g.get_mut(&curg) {
                s.status = G_WAITING;
            }
            self.go(ev.time, cur, curg, GoState::Running, GoState::Waiting);
        } else {
            self.g.remove(&curg);
            self.go(ev.time, cur, curg, GoState::Running, GoState::NotExist);
        }
        // …and the next one starting.
        let s = self.g.get_mut(&next).expect("checked above");
        s.status = G_RUNNING;
        s.seq = seq;
        let start_ctx = Ctx { g: NONE, ..cur };
        self.go(
            ev.time,
            start_ctx,
            next,
            GoState::Runnable,
            GoState::Running,
        );
        Ok(Some(Ctx { g: next, ..cur }))
    }

    fn syscall_begin(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        let gid = cur.g;
        let s = self.running_g(cur, ev.typ, G_RUNNING)?;
        s.status = G_SYSCALL;
        let Some(p) = self.p.get_mut(&cur.p) else {
            return Err(format!(
                "GoSyscallBegin on proc {} that does not exist",
                cur.p as i64
            ));
        };
        p.status = P_SYSCALL;
        let pseq = Seq::new(gen, ev.args[0]);
        if !pseq.succeeds(p.seq) {
            return Err(format!(
                "GoSyscallBegin: proc {} sequence {} does not follow {}",
                cur.p, pseq.n, p.seq.n
            ));
        }
        p.seq = pseq;
        self.push(
            ev.time,
            cur,
            EventKind::Goroutine(GoTransition {
                goid: gid,
                from: GoState::Running,
                to: GoState::Syscall,
                reason: StrRef(0),
                stack: StackRef(ev.args[1]),
                creator_stack: StackRef(0),
            }),
        );
        Ok(Some(cur))
    }

    fn syscall_end(&mut self, ev: &Raw, cur: Ctx) -> Step {
        let gid = cur.g;
        let s = self.running_g(cur, ev.typ, G_SYSCALL)?;
        s.status = G_RUNNING;
        let Some(p) = self.p.get_mut(&cur.p) else {
            return Err(format!(
                "GoSyscallEnd on proc {} that does not exist",
                cur.p as i64
            ));
        };
        if p.status != P_SYSCALL {
            return Err(format!("GoSyscallEnd: proc {} is not in a syscall", cur.p));
        }
        p.status = P_RUNNING;
        self.go(ev.time, cur, gid, GoState::Syscall, GoState::Running);
        Ok(Some(cur))
    }

    fn syscall_end_blocked(&mut self, ev: &Raw, cur: Ctx) -> Step {
        if cur.p != NONE {
            let Some(p) = self.p.get(&cur.p) else {
                return Err(format!(
                    "GoSyscallEndBlocked on proc {} that does not exist",
                    cur.p
                ));
            };
            if p.status == P_SYSCALL {
                return Ok(None);
            }
        }
        need(cur, Have, May, Have)?;
        let gid = cur.g;
        let Some(s) = self.g.get_mut(&gid) else {
            return Err(format!(
                "GoSyscallEndBlocked for goroutine {gid} that does not exist"
            ));
        };
        if s.status != G_SYSCALL {
            return Err(format!(
                "GoSyscallEndBlocked for goroutine {gid} not in a syscall"
            ));
        }
        s.status = G_RUNNABLE;
        self.go(ev.time, cur, gid, GoState::Syscall, GoState::Runnable);
        Ok(Some(Ctx { g: NONE, ..cur }))
    }

    fn go_create_syscall(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        need(cur, Have, May, Not)?;
        let newg = ev.args[0];
        if self.g.contains_key(&newg) {
            return Err(format!("goroutine {newg} created twice (in a syscall)"));
        }
        self.g.insert(
            newg,
            GState {
                status: G_SYSCALL,
                seq: Seq::new(gen, 0),
            },
        );
        self.go(ev.time, cur, newg, GoState::NotExist, GoState::Syscall);
        Ok(Some(Ctx { g: newg, ..cur }))
    }

    fn go_destroy_syscall(&mut self, ev: &Raw, cur: Ctx) -> Step {
        need(cur, Have, May, Have)?;
        let gid = cur.g;
        match self.g.get(&gid) {
            Some(s) if s.status == G_SYSCALL => {}
            Some(_) => {
                return Err(format!(
                    "GoDestroySyscall for goroutine {gid} not in a syscall"
                ))
            }
            None => {
                return Err(format!(
                    "GoDestroySyscall for goroutine {gid} that does not exist"
                ))
            }
        }
        self.g.remove(&gid);
        let mut new = Ctx { g: NONE, ..cur };
        if cur.p != NONE {
            let Some(p) = self.p.get_mut(&cur.p) else {
                return Err(format!(
                    "GoDestroySyscall on proc {} that does not exist",
                    cur.p
                ));
            };
            if p.status != P_SYSCALL {
                return Err(format!("GoDestroySyscall: proc {} not in a syscall", cur.p));
            }
            p.status = P_SYSCALL_ABANDONED;
            new.p = NONE;
            // The runtime's parser queues a self-steal of the proc first.
            self.push(
                ev.time,
                cur,
                EventKind::Proc {
                    id: cur.p,
                    from: ProcState::Running,
                    to: ProcState::Idle,
                },
            );
        }
        self.go(ev.time, cur, gid, GoState::Syscall, GoState::NotExist);
        Ok(Some(new))
    }

    fn gc_active(&mut self, ev: &Raw, cur: Ctx, gen: u64) -> Step {
        let seq = ev.args[0];
        if gen == self.initial_gen {
            if self.gc != Gc::Undetermined {
                return Err("GCActive in the first generation is not its first GC event".into());
            }
            self.gc_seq = seq;
            self.gc = Gc::Running;
            return self.other(ev, cur);
        }
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(None);
        }
        if self.gc != Gc::Running {
            return Err("GCActive while no GC was running".into());
        }
        self.gc_seq = seq;
        user_go(cur)?;
        self.other(ev, cur)
    }

    fn gc_begin(&mut self, ev: &Raw, cur: Ctx) -> Step {
        let seq = ev.args[0];
        if self.gc == Gc::Undetermined {
            self.gc_seq = seq;
            self.gc = Gc::Running;
            return self.other(ev, cur);
        }
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(None);
        }
        if self.gc == Gc::Running {
            return Err("GCBegin while a GC was running".into());
        }
        self.gc_seq = seq;
        self.gc = Gc::Running;
        user_go(cur)?;
        self.other(ev, cur)
    }

    fn gc_end(&mut self, ev: &Raw, cur: Ctx) -> Step {
        let seq = ev.args[0];
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(None);
        }
        match self.gc {
            Gc::NotRunning => return Err("GCEnd while no GC was running".into()),
            Gc::Undetermined => return Err("GCEnd while the GC state was undetermined".into()),
            Gc::Running => {}
        }
        self.gc_seq = seq;
        self.gc = Gc::NotRunning;
        user_go(cur)?;
        self.other(ev, cur)
    }
}
