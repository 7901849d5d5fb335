//! Ordered events, as the reader hands them out.

/// The id the runtime uses for "no goroutine / proc / thread" (−1 on the wire).
pub const NONE: u64 = u64::MAX;

/// A goroutine's state, as the runtime's parser names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GoState {
    /// The goroutine existed before the trace's first generation; its state was unknown until
    /// this event.
    Undetermined,
    NotExist,
    Runnable,
    Running,
    Waiting,
    Syscall,
}

impl GoState {
    /// From a wire status (`tracev2.GoStatus`).
    pub(crate) fn from_wire(s: u64) -> Option<GoState> {
        Some(match s {
            1 => GoState::Runnable,
            2 => GoState::Running,
            3 => GoState::Syscall,
            4 => GoState::Waiting,
            _ => return None,
        })
    }
}

/// A proc's (P's) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcState {
    Undetermined,
    NotExist,
    Running,
    Idle,
}

/// A string of the current generation's table (resolve it with [`crate::Reader::string`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StrRef(pub(crate) u64);

/// A stack of the current generation's table (resolve it with
/// [`crate::Reader::intern_stack`]); `StackRef::NONE` when the event has no stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StackRef(pub(crate) u64);

impl StackRef {
    pub const NONE: StackRef = StackRef(0);
    pub fn is_none(self) -> bool {
        self.0 == 0
    }
}

/// A goroutine's state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTransition {
    pub goid: u64,
    pub from: GoState,
    pub to: GoState,
    /// Why it blocked or stopped (`chan receive`, `sync`, `preempted`…), as the trace words
    /// it; the empty string otherwise.
    pub reason: StrRef,
    /// The goroutine's own stack: where it blocked or stopped, its status stack, or for a
    /// creation the new goroutine's entry.
    pub stack: StackRef,
    /// For a creation, the creator's stack at the `go` statement.
    pub creator_stack: StackRef,
}

/// What an event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A generation boundary: the `n`th (from 1) in the trace. The first comes before every
    /// other event, the last after every other.
    Sync { n: u64 },
    /// A goroutine changed state.
    Goroutine(GoTransition),
    /// A proc changed state.
    Proc {
        id: u64,
        from: ProcState,
        to: ProcState,
    },
    /// Anything goroscope does not interpret (GC, heap metrics, user annotations, CPU
    /// samples…): the wire event type.
    Other { typ: u8 },
}

/// One event, in the order the runtime's own parser produces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Nanoseconds on the trace clock, strictly increasing across events (the runtime's
    /// parser bumps a timestamp that does not move forward by one, and so does this reader).
    pub time: i64,
    /// The goroutine running on the event's thread before the event ([`NONE`] if none).
    pub g: u64,
    /// The proc of the event's thread before the event ([`NONE`] if none).
    pub p: u64,
    /// The thread ([`NONE`] for events not bound to one).
    pub m: u64,
    pub kind: EventKind,
}
