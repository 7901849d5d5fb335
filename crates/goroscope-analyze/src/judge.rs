//! Verdicts: from the rules' findings, proof, relations, magnitude and the snapshot's context.
//!
//! In order (the first that decides wins; rule levels and the baseline apply last):
//!
//! 1. the user's ignore rules → `benign`;
//! 2. a runtime proof (`(leaked)` markers, a goroutineleak profile, or a runtime-declared
//!    deadlock) → `leak`, proven;
//! 3. relations: a deadlocked set (cycle of waits) or a program in which nothing can run →
//!    `leak` when every wait object was named by the runtime and every lock had one holder, else
//!    `suspect` (probable);
//! 4. benign knowledge ([`crate::benign::TABLE`]) → `benign`, except at exit for what does not
//!    live as long as the process, and idle HTTP client connections beyond what one transport
//!    keeps ([`crate::knowledge::HTTP_IDLE_CLIENT_LIMIT`]) → `need-more-samples`
//!    `transport-per-call` (a dump cannot tell a Transport per call from a large pool);
//! 5. lock chains: waiters behind a holder that runs (held too long) or is itself blocked →
//!    `suspect`;
//! 6. `exit`/`test` contexts: whatever user goroutine is still blocked is leaked (goleak's rule)
//!    → `leak`; still running → `suspect`;
//! 7. `live`/`crash` contexts need evidence beyond "blocked": a certain pattern (nil channel,
//!    `select {}`, an unread response body) → `leak`; magnitude, or a creator that is gone →
//!    `suspect`; a long-lived actor or a wait the source line shows to be a timer, context,
//!    signal or stop channel → `benign`; otherwise a matched pattern is `need-more-samples`,
//!    with the one step that would decide it. A window of births and deaths (an execution
//!    trace, [`crate::lifecycle`]) is that evidence: a site it shows leaking makes the group
//!    `leak` (before magnitude, actors and source lines; also the transport-per-call case of
//!    4), a steady site makes a `need-more-samples` group `benign`.

use crate::benign;
use crate::config::{glob_match, Level};
use crate::knowledge::{self, ACTOR, HTTP_IDLE_CLIENT_LIMIT, LIFECYCLE_CREATORS};
use crate::lifecycle::{rate_text, GroupLifecycle, Shape};
use crate::report::Verdict;
use crate::rules::{self, Ctx, Finding};
use crate::source::{SourceFacts, Waits};
use crate::Options;
use goroscope_model::{Context, Status, WaitReason};

pub(crate) struct Decision {
    pub verdict: Verdict,
    pub pattern: Option<String>,
    pub explanation: Option<String>,
    pub fix: Option<String>,
    pub evidence: Vec<String>,
    pub ignored: bool,
    /// Proven by the runtime (markers, a goroutineleak profile, its deadlock detector).
    pub proven: bool,
    /// For `need-more-samples`: the step that would decide it.
    pub next_step: Option<String>,
    /// Relation ids this group takes part in.
    pub relations: Vec<String>,
}

impl Decision {
    /// A `benign` decision with nothing to say yet.
    pub(crate) fn benign() -> Self {
        Decision {
            verdict: Verdict::Benign,
            pattern: None,
            explanation: None,
            fix: None,
            evidence: Vec::new(),
            ignored: false,
            proven: false,
            next_step: None,
            relations: Vec::new(),
        }
    }

    fn set(&mut self, v: Verdict, pattern: &str, explanation: impl Into<String>, fix: &str) {
        self.verdict = v;
        self.pattern = Some(pattern.to_string());
        self.explanation = Some(explanation.into());
        if !fix.is_empty() {
            self.fix = Some(fix.to_string());
        }
    }

    fn take_rule(&mut self, v: Verdict, rule: &rules::Rule, f: &Finding) {
        self.verdict = v;
        self.pattern = Some(rule.id.to_string());
        self.explanation = Some(f.explanation.clone());
        self.fix = Some(rule.fix.to_string());
        self.evidence.extend(f.evidence.iter().cloned());
    }
}

/// The relations a group takes part in (computed by the engine from [`crate::relate`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupRelations {
    /// Member goroutines in a deadlocked set, and whether the set's evidence is sure.
    pub deadlocked: u64,
    pub deadlock_sure: bool,
    /// Relation ids and one-line descriptions, for evidence.
    pub ids: Vec<String>,
    pub lines: Vec<String>,
    /// Waiting behind a lock chain that ends at a busy holder (held too long).
    pub chain_busy: Option<String>,
    /// Waiting behind a lock chain whose holder is itself blocked on something else.
    pub chain_blocked: Option<String>,
    /// The whole program is stuck (nothing can run) and this group takes part.
    pub stuck: bool,
    /// Members waiting on a channel a timer feeds (read from memory: a Ticker's or Timer's
    /// `C`, `time.After`, `time.Tick`).
    pub timer_waits: u64,
}

/// Everything beyond the group's own frames that the verdict may use.
pub(crate) struct Evidence<'a> {
    pub context: Context,
    pub rel: GroupRelations,
    /// A magnitude rule the group's blocking or creation site meets, with the site's count.
    pub magnitude: Option<(&'static knowledge::Magnitude, u64, &'static str)>,
    /// Distinct creator goroutines of the group that are no longer in the snapshot, of those
    /// known (`None`: the snapshot may not list every goroutine).
    pub creators_gone: Option<(usize, usize)>,
    /// Total idle HTTP client connections (persistConn read loops in I/O wait) in the snapshot.
    pub idle_client_conns: u64,
    /// The longest wait (minutes) of any goroutine in the snapshot.
    pub max_minutes: Option<u32>,
    pub source: Option<&'a SourceFacts>,
    /// How to take a second sample or a proof of this input, for `need-more-samples` texts.
    pub next_step: &'a str,
    /// What a window of births and deaths (an execution trace) says about the group's site.
    pub lifecycle: Option<&'a GroupLifecycle>,
}

pub(crate) fn benign_match(cx: &Ctx<'_>) -> Option<&'static benign::Benign> {
    benign::TABLE.iter().find(|b| {
        (!b.std_only || !cx.facts.has_user_frame)
            && (b.states.is_empty() || cx.reason.is_some_and(|r| b.states.contains(&r)))
            && cx.functions().any(|f| glob_match(b.function, f))
    })
}

fn ignored_by(cx: &Ctx<'_>, opts: &Options) -> Option<String> {
    let ig = &opts.config.ignore;
    let top = cx
        .facts
        .first_non_plumbing
        .map(|i| cx.snap.function(cx.stack[i]));
    let very_top = cx.stack.first().map(|&f| cx.snap.function(f));
    for p in &ig.top_function {
        if top.is_some_and(|t| glob_match(p, t)) || very_top.is_some_and(|t| glob_match(p, t)) {
            return Some(format!("ignored by config: top_function \"{p}\""));
        }
    }
    for p in &ig.any_function {
        if cx.functions().any(|f| glob_match(p, f)) {
            return Some(format!("ignored by config: any_function \"{p}\""));
        }
    }
    for p in &ig.created_by {
        if cx.created_by.is_some_and(|c| glob_match(p, c)) {
            return Some(format!("ignored by config: created_by \"{p}\""));
        }
    }
    None
}

/// Whether the group's goroutines are parked (not running, runnable or in a syscall).
fn parked(cx: &Ctx<'_>) -> bool {
    match cx.status {
        Status::Running | Status::Runnable | Status::Syscall | Status::Preempted => false,
        Status::Unknown => cx.reason.is_some() || cx.facts.inferred.is_some(),
        _ => true,
    }
}

/// The wait a `testing/synctest` durable wait is (`chan send (durable)` is a `chan send` inside a
/// bubble): the rules judge the operation.
/// A main goroutine waiting to hand a value over or to take a lock is not waiting for the
/// program's end (a signal, a server, `wg.Wait`, `select`): it waits for another goroutine, and
/// if that never comes the program hangs. It is judged like any other goroutine (issue 8: `main`
/// blocked in a send of a deadlocked pipeline is never benign).
/// Where the form prints no state (`debug=1`, protobuf without runtime frames) main stays
/// benign: a service's main nearly always waits for its end, and a need-more-samples on every
/// healthy service's main would be noise.
fn main_stuck(r: Option<WaitReason>) -> bool {
    matches!(
        base_reason(r),
        Some(
            WaitReason::ChanSend
                | WaitReason::ChanSendNilChan
                | WaitReason::SyncMutexLock
                | WaitReason::SyncRwMutexLock
                | WaitReason::SyncRwMutexRLock
        )
    )
}

fn base_reason(r: Option<WaitReason>) -> Option<WaitReason> {
    Some(match r? {
        WaitReason::SynctestChanReceive => WaitReason::ChanReceive,
        WaitReason::SynctestChanSend => WaitReason::ChanSend,
        WaitReason::SynctestSelect => WaitReason::Select,
        WaitReason::SynctestWaitGroupWait => WaitReason::SyncWaitGroupWait,
        other => other,
    })
}

/// The worst rule finding (ties: rule order).
fn best_rule(cx: &Ctx<'_>) -> Option<(&'static rules::Rule, Finding)> {
    let mut based = *cx;
    based.reason = base_reason(cx.reason);
    let cx = &based;
    let mut best: Option<(&rules::Rule, Finding)> = None;
    for rule in rules::ALL {
        if let Some(f) = (rule.check)(cx) {
            if best
                .as_ref()
                .is_none_or(|(_, b)| f.verdict.rank() > b.verdict.rank())
            {
                best = Some((rule, f));
            }
        }
    }
    best
}

/// Long-lived actor: started once per owner at startup (by `main`, an initialiser or a
/// lifecycle framework), few, waiting in a select, a receive, a Cond or a sleep — on its
/// context, a stop channel or a ticker as its source line shows, or, without the source, for
/// about as long as the process has run.
fn actor(cx: &Ctx<'_>, ev: &Evidence<'_>) -> Option<String> {
    if !matches!(
        cx.reason,
        Some(
            WaitReason::Select
                | WaitReason::ChanReceive
                | WaitReason::SyncCondWait
                | WaitReason::Sleep
        )
    ) || cx.count > ACTOR.max_count
    {
        return None;
    }
    let owners = cx.creators.max(1) as u64;
    if cx.count > owners * ACTOR.max_per_creator {
        return None; // several per owner: a pool or a per-call loop, not one actor each
    }
    if ev.creators_gone.is_some_and(|(gone, _)| gone > 0) {
        return None;
    }
    let c = cx.created_by?;
    let (_, framework) = LIFECYCLE_CREATORS.iter().find(|(g, _)| glob_match(g, c))?;
    let mut why = vec![format!("started once at startup by {c} ({framework})")];
    match ev.source {
        Some(s) if !s.waits.is_empty() => {
            let kinds: Vec<&str> = s.waits.iter().map(|w| w.as_str()).collect();
            why.push(format!(
                "waits on {} (source line `{}`)",
                kinds.join(" or "),
                s.line
            ));
        }
        // The source shows a plain data channel: not an actor's wait.
        Some(_) => return None,
        None => {
            let (lo, max) = (cx.minutes?.0, ev.max_minutes?);
            if max < ACTOR.min_minutes || (lo as f64) < ACTOR.min_age_share * max as f64 {
                return None;
            }
            why.push(format!(
                "blocked {lo} minutes, about as long as the longest wait in the dump ({max}): since the process started"
            ));
        }
    }
    Some(why.join("; "))
}

pub(crate) fn decide(
    cx: &Ctx<'_>,
    ev: &Evidence<'_>,
    opts: &Options,
    proven: Option<String>,
    baseline: Option<u64>,
) -> Decision {
    let mut d = Decision::benign();
    d.relations = ev.rel.ids.clone();
    let best = best_rule(cx);
    let user = cx.facts.has_user_frame;

    if let Some(why) = ignored_by(cx, opts) {
        d.evidence.push(why);
        d.ignored = true;
        if let Some((rule, _)) = &best {
            d.pattern = Some(rule.id.to_string());
        }
        if let Some(p) = proven {
            d.evidence.push(p);
        }
        return d;
    }
    let benign = benign_match(cx).filter(|b| {
        let overridden = best
            .as_ref()
            .is_some_and(|(r, f)| b.unless.contains(&r.id) && f.verdict != Verdict::Benign);
        let main_waits_on_another = b.id == "main-goroutine" && main_stuck(cx.reason);
        !(overridden || main_waits_on_another)
    });
    let runtime_worker = benign.is_some_and(|b| b.at_exit && b.id != "main-goroutine");

    // 2. Proof.
    let proof = proven.or_else(|| {
        (ev.context == Context::Deadlock && parked(cx) && !runtime_worker && user).then(|| {
            "the runtime's deadlock detector declared every goroutine asleep (`all goroutines are asleep - deadlock!`)".to_string()
        })
    });
    if let Some(p) = proof {
        d.verdict = Verdict::Leak;
        d.proven = true;
        d.evidence.push(p);
        match &best {
            Some((rule, f)) => d.take_rule(Verdict::Leak, rule, f),
            None => {
                d.explanation = Some(match cx.reason {
                    Some(r) => format!(
                        "the runtime proved nothing reachable can ever unblock this {}",
                        r.as_str()
                    ),
                    None => {
                        "the runtime proved nothing reachable can ever unblock these goroutines"
                            .into()
                    }
                });
            }
        }
        d.evidence.extend(ev.rel.lines.iter().cloned());
        return levels(d, cx, opts, baseline, best.as_ref());
    }

    // 3. Relations that show it can never wake.
    if ev.rel.deadlocked > 0 || ev.rel.stuck {
        let sure = ev.rel.stuck || ev.rel.deadlock_sure;
        let v = if sure {
            Verdict::Leak
        } else {
            Verdict::Suspect
        };
        let what = if ev.rel.deadlocked > 0 {
            "deadlocked: each goroutine of the cycle waits for another one of it to send, receive or unlock"
        } else {
            "the program is hung: every user goroutine waits on a channel or a lock, none runs, sleeps or waits in a select, so none can free another"
        };
        match &best {
            // A pattern certain on its own (a nil channel, `select {}`) explains it better.
            Some((rule, f)) if f.verdict == Verdict::Leak => d.take_rule(Verdict::Leak, rule, f),
            _ => d.set(v, "deadlock", what, "break the cycle: take locks in one global order, do not send on an unbuffered channel while its receiver waits for you (buffer it or select on ctx.Done()), never Wait on a WaitGroup before its workers can finish"),
        }
        if !sure && d.verdict != Verdict::Leak {
            d.evidence.push("probable: the wait-for edges come from argument words and method receivers (a lock's holder is the goroutine inside the object that contains it), not from the runtime".into());
        }
        d.evidence.extend(ev.rel.lines.iter().cloned());
        if let Some((_, f)) = best.as_ref().filter(|(_, f)| f.verdict != Verdict::Leak) {
            d.evidence.extend(f.evidence.iter().cloned());
        }
        return levels(d, cx, opts, baseline, best.as_ref());
    }

    // 4. Benign knowledge.
    if let Some(b) = benign {
        let final_ctx = ev.context.is_final();
        if b.id == "http-client-idle" && ev.idle_client_conns > HTTP_IDLE_CLIENT_LIMIT {
            // A dump cannot tell transports apart: many idle connections are either one
            // Transport per call or limits raised on purpose. Size or time decides.
            let v = if final_ctx {
                Verdict::Leak
            } else {
                Verdict::NeedMoreSamples
            };
            d.set(
                v,
                "transport-per-call",
                format!(
                    "{} idle HTTP client connections: more than one http.Transport keeps by default ({HTTP_IDLE_CLIENT_LIMIT} idle in all, 2 per host), so either a Transport is made per call and never closed, or the limits were raised on purpose",
                    ev.idle_client_conns
                ),
                "make one http.Client (and its Transport) at startup and reuse it; a Transport made per request keeps its idle connections (and their two goroutines each) until CloseIdleConnections",
            );
            d.evidence.push(format!(
                "{} goroutines of this group; idle persistConn read loops in the whole dump: {}",
                cx.count, ev.idle_client_conns
            ));
            if v == Verdict::NeedMoreSamples {
                if let Some(l) = ev.lifecycle.filter(|l| l.shape.leaking()) {
                    d.verdict = Verdict::Leak;
                    d.evidence.push(window_decides(l));
                } else {
                    d.next_step = Some(format!(
                        "a per-call Transport leaks one connection per request, so the count grows with traffic: {}",
                        ev.next_step
                    ));
                }
            }
            return levels(d, cx, opts, baseline, best.as_ref());
        }
        if final_ctx && !b.at_exit && parked(cx) {
            d.set(
                Verdict::Leak,
                b.id,
                format!(
                    "still waiting when the process exited: {}, left open instead of shut down",
                    b.reason
                ),
                "close what started it before returning (Server.Shutdown/Close, Client.CloseIdleConnections, DB.Close, cancel the context that runs the loop)",
            );
            d.evidence.push(format!(
                "{} context ({}): nothing can use it any more",
                ev.context,
                if ev.context == Context::Test {
                    "goleak's rule"
                } else {
                    "taken as the process exited"
                }
            ));
            return levels(d, cx, opts, baseline, best.as_ref());
        }
        if !(b.id == "main-goroutine" && ev.context == Context::Deadlock) {
            d.pattern = Some(format!("benign:{}", b.id));
            d.explanation = Some(b.reason.to_string());
            return d;
        }
    }

    // 5. Lock chains.
    if let Some(line) = ev.rel.chain_busy.as_ref().or(ev.rel.chain_blocked.as_ref()) {
        let busy = ev.rel.chain_busy.is_some();
        d.set(
            if ev.context.is_final() { Verdict::Leak } else { Verdict::Suspect },
            if busy { "lock-held-too-long" } else { "lock-held-while-blocked" },
            if busy {
                "waiting for a lock whose holder is busy: a critical section that runs too long (the chain below names the holder and its stack)"
            } else {
                "waiting for a lock whose holder is itself blocked while holding it"
            },
            if busy {
                "shorten the critical section: copy what you need under the lock and do the work (I/O, computation, calls) after Unlock; or split the lock"
            } else {
                "never block (on a channel, I/O, another lock) while holding a mutex: release it first, or give the blocking call a deadline"
            },
        );
        d.evidence.push(line.clone());
        d.evidence.extend(ev.rel.lines.iter().cloned());
        if let Some((_, f)) = &best {
            d.evidence.extend(f.evidence.iter().cloned());
        }
        return levels(d, cx, opts, baseline, best.as_ref());
    }

    // 6. Exit and test: whatever is still blocked is leaked.
    if ev.context == Context::Deadlock && !parked(cx) {
        d.evidence.push(
            "running when the runtime declared the deadlock: the goroutine reporting it".into(),
        );
        return d;
    }
    if ev.context.is_final() && !parked(cx) && !user {
        // The goroutine exiting the process (running `os.Exit`, or a stack that cannot be read
        // while it runs): nothing to attribute.
        d.evidence.push(format!(
            "{} context: running as the process exited, with no user frame to attribute",
            ev.context
        ));
        return d;
    }
    if ev.context.is_final() || matches!(ev.context, Context::Live | Context::Crash) {
        if let Some(why) = signal_waiter_by_name(cx, ev) {
            d.pattern = Some("benign:signal-waiter".into());
            d.explanation = Some(
                "waits for an OS signal: one per process, it lives as long as the process".into(),
            );
            d.evidence.push(why);
            return d;
        }
    }
    if ev.context.is_final() {
        // A signal handler's receive lives as long as the process by design, like os/signal's
        // own loop (the source line shows the channel went to signal.Notify).
        if let Some(s) = ev
            .source
            .filter(|s| s.waits.contains(&Waits::Signal) && cx.count <= ACTOR.max_count)
        {
            d.pattern = Some("benign:signal-waiter".into());
            d.explanation = Some(format!(
                "waits on an OS signal channel (source line `{}`): one per process, it lives as long as the process by design",
                s.line
            ));
            d.evidence.push(format!("source {}", s.path.display()));
            return d;
        }
        let (v, why) = if parked(cx) {
            (
                Verdict::Leak,
                "still blocked when the process exited: nothing can ever wake it now",
            )
        } else {
            (
                Verdict::Suspect,
                "still running when the process exited: whoever started it did not wait for it to finish",
            )
        };
        if cx.status == Status::Unknown && cx.reason.is_none() && !parked(cx) && best.is_none() {
            // A stateless record (debug=1) outside user code: nothing to say.
            if !user {
                return d;
            }
        }
        match &best {
            Some((rule, f)) => d.take_rule(v, rule, f),
            None => {
                d.verdict = v;
                d.pattern = Some(
                    if parked(cx) {
                        "blocked-at-exit"
                    } else {
                        "running-at-exit"
                    }
                    .into(),
                );
                d.explanation = Some(why.to_string());
                d.fix = Some("stop every goroutine you start before returning: cancel its context or close its channel, and wait for it (sync.WaitGroup, errgroup)".into());
                d.evidence.push(cx_basic(cx));
            }
        }
        d.evidence.push(format!(
            "{} context ({}): {why}",
            ev.context,
            if ev.context == Context::Test {
                "a test binary: goleak's rule"
            } else {
                "taken as the process exited"
            }
        ));
        return levels(d, cx, opts, baseline, best.as_ref());
    }

    // 7. Live and crash: evidence beyond "blocked".
    // A window of births and deaths that shows the site leaking decides first.
    if let Some(l) = ev.lifecycle.filter(|l| l.shape.leaking() && user) {
        match &best {
            Some((rule, f)) => d.take_rule(Verdict::Leak, rule, f),
            None => d.set(
                Verdict::Leak,
                rules::relations::LIFECYCLE_LEAK.id,
                lifecycle_explanation(l),
                rules::relations::LIFECYCLE_LEAK.fix,
            ),
        }
        d.evidence.push(window_decides(l));
        return levels(d, cx, opts, baseline, best.as_ref());
    }
    // Size needs no state: a site holding most goroutines is a finding even where the form
    // cannot tell how they wait (debug=1 hides the runtime frames).
    if best.is_none() && parked_or_unknown(cx) {
        if let Some((m, n, which)) = ev.magnitude {
            d.set(
                Verdict::Suspect,
                "magnitude",
                format!(
                    "{n} goroutines at one {which} site ({:.0} % of all): too many to be a pool or an idle wait",
                    100.0 * n as f64 / cx.snap.total_goroutines().max(1) as f64
                ),
                "find what stops these goroutines from finishing (the blocking line above) and bound how many can wait there: a context deadline, a worker pool, a semaphore",
            );
            d.evidence.push(m.why.to_string());
            d.evidence.push(cx_basic(cx));
            d.next_step = Some(format!("confirm it grows: {}", ev.next_step));
            return levels(d, cx, opts, baseline, None);
        }
    }
    let Some((rule, f)) = best else {
        if cx.reason.is_none() && cx.status == Status::Unknown && user {
            d.verdict = Verdict::NeedMoreSamples;
            d.evidence.push(
                "the state is unknown in this form (debug=1 hides the runtime frames that tell it)"
                    .into(),
            );
            d.next_step = Some("take a debug=2 or protobuf dump of the same process".into());
        }
        return d;
    };
    if f.verdict == Verdict::Leak {
        d.take_rule(Verdict::Leak, rule, &f);
        return levels(d, cx, opts, baseline, Some(&(rule, f)));
    }
    let mut strong: Vec<String> = Vec::new();
    if let Some((m, n, which)) = ev.magnitude {
        strong.push(format!(
            "{n} goroutines at this {which} site ({:.0} % of all): {}",
            100.0 * n as f64 / cx.snap.total_goroutines().max(1) as f64,
            m.why
        ));
    }
    if let Some((gone, known)) = ev.creators_gone {
        let send = cx.reason == Some(WaitReason::ChanSend);
        if gone > 0 && (send || (gone >= 2 && cx.count >= 2)) {
            strong.push(format!(
                "created by {gone} goroutine{} no longer running (of {known} creators seen): {}",
                if gone == 1 { "" } else { "s" },
                if send {
                    "the caller that would receive this send has returned"
                } else {
                    "each was left behind by a call that returned"
                }
            ));
        }
    }
    if !strong.is_empty() {
        d.take_rule(Verdict::Suspect, rule, &f);
        d.evidence.extend(strong);
        d.next_step = Some(format!("confirm it grows: {}", ev.next_step));
        return levels(d, cx, opts, baseline, Some(&(rule, f)));
    }
    if let Some(why) = actor(cx, ev) {
        d.pattern = Some("benign:long-lived-actor".into());
        d.explanation = Some(
            "a long-lived actor of the service: started once at startup, waiting for work, a tick or its stop signal"
                .into(),
        );
        d.evidence.push(why);
        d.evidence.push(format!("would otherwise be {}", rule.id));
        return d;
    }
    // One periodic loop or stop-waiter per owner is healthy; several from one owner are the
    // "background loop never stopped" shape, which growth decides.
    let per_owner = cx.count <= cx.creators.max(1) as u64 * ACTOR.max_per_creator;
    if ev.rel.timer_waits == cx.count && per_owner {
        d.pattern = Some("benign:timer-loop".into());
        d.explanation = Some(
            "waits on a timer's channel (read from memory: a Ticker's or Timer's C, time.After, time.Tick): a periodic or timed loop, which its timer always wakes".into(),
        );
        d.evidence.push(format!(
            "{} goroutine{} from {} creator{}: one loop per owner",
            cx.count,
            if cx.count == 1 { "" } else { "s" },
            cx.creators.max(1),
            if cx.creators > 1 { "s" } else { "" }
        ));
        d.evidence.push(format!("would otherwise be {}", rule.id));
        return d;
    }
    if let Some(s) = ev.source {
        let quiet = s.waits.iter().find(|w| match w {
            Waits::Signal => cx.count <= ACTOR.max_count,
            Waits::Timer => per_owner,
            Waits::Context | Waits::Stop => per_owner && s.waits.len() == 1,
        });
        if let Some(w) = quiet {
            d.pattern = Some(
                match w {
                    Waits::Timer => "benign:timer-loop",
                    Waits::Signal => "benign:signal-waiter",
                    _ => "benign:stop-wait",
                }
                .into(),
            );
            d.explanation = Some(format!(
                "waits on {} (source line `{}`): {}",
                w.as_str(),
                s.line,
                match w {
                    Waits::Timer => "a periodic or timed loop, which its timer always wakes",
                    Waits::Signal => "woken by an OS signal, one per process",
                    _ => "it ends when its owner stops it",
                }
            ));
            d.evidence.push(format!("source {}", s.path.display()));
            d.evidence.push(format!("would otherwise be {}", rule.id));
            return d;
        }
    }
    let v = if f.verdict == Verdict::Benign {
        Verdict::Benign
    } else {
        Verdict::NeedMoreSamples
    };
    if let Some(l) = ev.lifecycle.filter(|l| l.shape == Shape::Steady) {
        if v == Verdict::NeedMoreSamples {
            d.pattern = Some("benign:steady-lifecycle".into());
            d.explanation = Some(format!(
                "the execution window shows the goroutines of {} ending as they are born: a pool's or a handler's churn, not a leak",
                l.site
            ));
            d.evidence.push(format!("would otherwise be {}", rule.id));
            return d;
        }
    }
    d.take_rule(v, rule, &f);
    if v == Verdict::NeedMoreSamples {
        d.evidence.push(format!(
            "{} context: blocked alone is not evidence in a running service (it may be woken later)",
            ev.context
        ));
        d.next_step = Some(ev.next_step.to_string());
    }
    levels(d, cx, opts, baseline, Some(&(rule, f)))
}

/// A receive in a function named like a signal handler's while os/signal's loop runs (see
/// [`knowledge::SIGNAL_WAITER_FUNCTIONS`]), when the source is not at hand to say more.
fn signal_waiter_by_name(cx: &Ctx<'_>, ev: &Evidence<'_>) -> Option<String> {
    if ev.source.is_some()
        || !cx.wide.signal_loop
        || base_reason(cx.reason) != Some(WaitReason::ChanReceive)
        || cx.count > 4
    {
        return None;
    }
    let f = cx.blocking_function()?;
    knowledge::SIGNAL_WAITER_FUNCTIONS
        .iter()
        .any(|g| glob_match(g, f))
        .then(|| format!("receives in {f}, named like a signal handler's wait, while os/signal's delivery loop runs (the program called signal.Notify); the source line would confirm it"))
}

/// Parked, or in a form that does not tell (an aggregated record).
fn parked_or_unknown(cx: &Ctx<'_>) -> bool {
    parked(cx) || (cx.status == Status::Unknown && cx.facts.has_user_frame)
}

/// The evidence line of a verdict the execution window decided.
fn window_decides(l: &GroupLifecycle) -> String {
    format!(
        "the execution window decides: {} is leaking{}",
        l.site,
        l.rate_per_min
            .map(|r| format!(" ({})", rate_text(r)))
            .unwrap_or_default()
    )
}

fn lifecycle_explanation(l: &GroupLifecycle) -> String {
    match l.shape {
        Shape::Outlived => "the execution window shows these goroutines outliving, by far, their siblings from the same go statement, which end: they are left behind".to_string(),
        Shape::Kin(_) => format!(
            "existed before the execution window and are blocked like the goroutines it shows leaking from {}",
            l.kin_of.as_deref().unwrap_or(&l.site)
        ),
        _ => "the execution window shows their go statement starting goroutines that never end, the number alive rising all along".to_string(),
    }
}

fn cx_basic(cx: &Ctx<'_>) -> String {
    format!(
        "{} goroutine{} in [{}] at {}",
        cx.count,
        if cx.count == 1 { "" } else { "s" },
        cx.reason.map_or(cx.status.as_str(), |r| r.as_str()),
        cx.blocking_site()
    )
}

/// Rule levels (`-A`/`-W`/`-D`) and the baseline.
fn levels(
    mut d: Decision,
    cx: &Ctx<'_>,
    opts: &Options,
    baseline: Option<u64>,
    _best: Option<&(&'static rules::Rule, Finding)>,
) -> Decision {
    if let Some(id) = d.pattern.clone() {
        if let Some(level) = opts.level(&id) {
            match level {
                Level::Allow if !d.proven => {
                    d.evidence.push(format!("allowed (-A {id})"));
                    d.verdict = Verdict::Benign;
                    d.ignored = true;
                    d.next_step = None;
                }
                Level::Warn if d.verdict == Verdict::Leak && !d.proven => {
                    d.evidence.push(format!("capped at suspect (-W {id})"));
                    d.verdict = Verdict::Suspect;
                }
                Level::Deny
                    if d.verdict == Verdict::Suspect || d.verdict == Verdict::NeedMoreSamples =>
                {
                    d.evidence.push(format!("promoted to leak (-D {id})"));
                    d.verdict = Verdict::Leak;
                    d.next_step = None;
                }
                _ => {}
            }
        }
    }
    if let Some(b) = baseline {
        if d.verdict != Verdict::Benign && cx.count <= b {
            d.evidence
                .push(format!("in the baseline ({b} goroutines there)"));
            d.verdict = Verdict::Benign;
            d.ignored = true;
            d.next_step = None;
        } else if d.verdict != Verdict::Benign {
            d.evidence
                .push(format!("{b} of them already in the baseline"));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;
    use goroscope_model::Context;

    #[test]
    fn at_exit_blocked_is_leaked_running_is_suspect_the_exiting_goroutine_is_not() {
        let blocked = [G::new("chan receive", &[("main.worker", "main.go", 9)])];
        let g = one_in(Context::Exit, &blocked);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Leak, Some("chan-receive-no-sender"))
        );
        let busy = [G::new("running", &[("main.spin", "main.go", 3)])];
        let g = one_in(Context::Exit, &busy);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Suspect, Some("running-at-exit"))
        );
        // The goroutine running os.Exit (its stack unreadable while it runs) is not a finding.
        let exiting = [G::new("running", &[])];
        assert_eq!(one_in(Context::Exit, &exiting).verdict, Verdict::Benign);
        let sleeping = [G::new(
            "sleep",
            &[("time.Sleep", "time.go", 1), ("main.tick", "main.go", 5)],
        )];
        let g = one_in(Context::Exit, &sleeping);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Leak, Some("blocked-at-exit"))
        );
        assert_eq!(one_in(Context::Live, &sleeping).verdict, Verdict::Benign);
    }

    #[test]
    fn main_waiting_for_another_goroutine_is_not_benign() {
        // main and a server's accept loop (so the program is not stuck as a whole).
        let main_in = |reason: &'static str, top: (&'static str, &'static str, u32)| {
            let gs = [
                G::new(reason, &[top, ("main.main", "main.go", 20)]).goid(1),
                G::new(
                    "IO wait",
                    &[
                        ("internal/poll.runtime_pollWait", "netpoll.go", 1),
                        ("net/http.(*Server).Serve", "server.go", 1),
                    ],
                )
                .goid(7),
            ];
            let r = report_in(Context::Live, &gs);
            r.groups.into_iter().find(|g| g.goids == vec![1]).unwrap()
        };
        let g = main_in("chan send", ("runtime.chansend1", "chan.go", 161));
        assert_ne!(g.verdict, Verdict::Benign, "{g:#?}");
        let g = main_in(
            "sync.Mutex.Lock",
            ("sync.(*Mutex).lockSlow", "mutex.go", 149),
        );
        assert_ne!(g.verdict, Verdict::Benign, "{g:#?}");
        // Waiting for the program's end is what main does in a service.
        let g = main_in("select", ("runtime.selectgo", "select.go", 1));
        assert_eq!(g.verdict, Verdict::Benign, "{g:#?}");
        let g = main_in(
            "sync.WaitGroup.Wait",
            ("sync.(*WaitGroup).Wait", "waitgroup.go", 1),
        );
        assert_eq!(g.verdict, Verdict::Benign, "{g:#?}");
    }

    #[test]
    fn runtime_declared_deadlock_proves_every_user_goroutine() {
        let gs = [
            G::new(
                "sync.WaitGroup.Wait",
                &[
                    ("sync.(*WaitGroup).Wait", "waitgroup.go", 1),
                    ("main.main", "main.go", 11),
                ],
            )
            .goid(1),
            G::new("chan send", &[("main.main.func1", "main.go", 9)])
                .by(("main.main", "main.go", 9))
                .creator(1),
            G::new(
                "GC worker (idle)",
                &[("runtime.gcBgMarkWorker", "mgc.go", 1)],
            ),
        ];
        let r = report_in(Context::Deadlock, &gs);
        assert!(r.proof.available);
        for g in &r.groups {
            if g.stack[0].function == "runtime.gcBgMarkWorker" {
                assert_eq!(g.verdict, Verdict::Benign);
            } else {
                assert_eq!((g.verdict, g.proven), (Verdict::Leak, true), "{g:#?}");
            }
        }
        // main blocked forever is never benign here.
        let main = r.groups.iter().find(|g| g.goids == vec![1]).unwrap();
        assert_eq!(main.verdict, Verdict::Leak);
    }
}
