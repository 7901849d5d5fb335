// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
//
// goroscope's goroutine lifecycle tracer: uprobes on the Go runtime of one process.
//
// Every probe sits on an instruction the kernel emulates (placed by src/plan.rs); none is a
// uretprobe. Offsets into runtime.g come from user space (DWARF or the per-release tables) as
// read-only constants, the register holding the goroutine's g as each probe's attach cookie.
// The program only reads the target's memory. Events go to one ring buffer; whatever cannot be
// delivered is counted (per-CPU counters), never silently lost.

#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>

#define EV_CREATE 1
#define EV_EXIT 2
#define EV_PARK 3
#define EV_RESUME 4

// Layout shared with src/event.rs (48 bytes, little endian).
struct event {
	__u8 kind;
	__u8 reason;     // park, resume: the wait reason number
	__u16 pad;
	__s32 stack_id;  // in `stacks`, or < 0: none (-errno when taking it failed)
	__u64 ts;        // CLOCK_MONOTONIC ns, the clock of Go's nanotime
	__u64 goid;
	__u64 aux;       // create: parentGoid; resume: ns since the park
	__u64 gopc;
	__u64 startpc;
};

enum counter {
	C_CREATE,     // creation events delivered
	C_EXIT,       // exit events delivered
	C_PARK,       // park events delivered
	C_RESUME,     // resume events delivered
	C_DROP,       // events lost: the ring buffer was full
	C_READ_ERR,   // events lost: the g could not be read
	C_STACK_ERR,  // stacks not taken (stack map full or unwinding failed)
	C_OTHER,      // hits from another process (should stay 0: probes are attached per pid)
	C_MAX,
};

// Set by user space before loading.
const volatile __u32 target_tgid = 0;  // in the pid namespace below
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;
const volatile __u32 goid_off = 0;
const volatile __u32 parent_goid_off = 0;
const volatile __u32 gopc_off = 0;
const volatile __u32 startpc_off = 0;
const volatile __u32 park_sample = 1;  // parks of goroutines with goid % park_sample == 0
const volatile __u8 want_stacks = 0;
const volatile __u8 want_park = 0;
const volatile __u64 wakeup_bytes = 0;  // wake goroscope once this much is waiting

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);  // resized by user space
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

#define STACK_DEPTH 64
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1);  // resized by user space when stacks are wanted
	__uint(key_size, sizeof(__u32));
	__uint(value_size, STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct parked {
	__u64 ts;
	__u8 reason;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);  // resized by user space with --park
	__type(key, __u64);
	__type(value, struct parked);
} parked SEC(".maps");

// Submits an event without waking goroscope until `wakeup_bytes` are waiting: it drains the
// ring on its own every 50 ms, so the target's threads do not pay for a wake-up (irq_work, a
// context switch on a busy machine) at nearly every event.
static __always_inline void submit(struct event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void count(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &c);
	if (v)
		*v += 1;
}

// The probe fired in the target (the probes are attached to its pid already; this also holds
// when goroscope and the target are in different pid namespaces).
static __always_inline int ours(void)
{
	struct bpf_pidns_info ns = {};
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0;
	return ns.tgid == target_tgid;
}

// A register by its index in struct pt_regs (src/plan.rs Reg::pt_regs_index). The context is
// copied first: the verifier refuses a load through a context pointer with an offset the
// compiler computed from the index.
static __always_inline __u64 reg(struct pt_regs *ctx, __u64 i)
{
	__u64 regs[sizeof(struct pt_regs) / 8];
	__builtin_memcpy(regs, ctx, sizeof(regs));
	if (i >= sizeof(regs) / 8)
		return 0;
	return regs[i];
}

static __always_inline int read_u64(__u64 *dst, __u64 g, __u32 off)
{
	return bpf_probe_read_user(dst, sizeof(*dst), (void *)(g + off));
}

// Fills an event from the g at `g`; non-zero when the g could not be read.
static __always_inline int fill(struct pt_regs *ctx, struct event *e, __u8 kind, __u64 g)
{
	e->kind = kind;
	e->reason = 0;
	e->pad = 0;
	e->ts = bpf_ktime_get_ns();
	e->aux = 0;
	e->stack_id = -1;
	if (read_u64(&e->goid, g, goid_off) ||
	    read_u64(&e->gopc, g, gopc_off) ||
	    read_u64(&e->startpc, g, startpc_off))
		return 1;
	if (kind == EV_CREATE && read_u64(&e->aux, g, parent_goid_off))
		return 1;
	if (want_stacks && (kind == EV_CREATE || kind == EV_PARK)) {
		long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
		if (id < 0)
			count(C_STACK_ERR);
		e->stack_id = id;
	}
	return 0;
}

static __always_inline int emit(struct pt_regs *ctx, __u8 kind, __u32 c)
{
	if (!ours()) {
		count(C_OTHER);
		return 0;
	}
	__u64 g = reg(ctx, bpf_get_attach_cookie(ctx));
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(C_DROP);
		return 0;
	}
	if (fill(ctx, e, kind, g)) {
		bpf_ringbuf_discard(e, 0);
		count(C_READ_ERR);
		return 0;
	}
	if (kind == EV_EXIT && want_park) {
		__u64 goid = e->goid;
		bpf_map_delete_elem(&parked, &goid);
	}
	submit(e);
	count(c);
	return 0;
}

SEC("uprobe")
int goroscope_create(struct pt_regs *ctx)
{
	return emit(ctx, EV_CREATE, C_CREATE);
}

SEC("uprobe")
int goroscope_exit(struct pt_regs *ctx)
{
	return emit(ctx, EV_EXIT, C_EXIT);
}

// runtime.gopark at its push %rbp: the parking g in R14 (the cookie), the wait reason in CL.
SEC("uprobe")
int goroscope_park(struct pt_regs *ctx)
{
	if (!ours()) {
		count(C_OTHER);
		return 0;
	}
	__u64 g = reg(ctx, bpf_get_attach_cookie(ctx));
	__u64 goid;
	if (read_u64(&goid, g, goid_off)) {
		count(C_READ_ERR);
		return 0;
	}
	if (park_sample > 1 && goid % park_sample != 0)
		return 0;
	struct parked p = { .ts = bpf_ktime_get_ns(), .reason = (__u8)ctx->rcx };
	bpf_map_update_elem(&parked, &goid, &p, BPF_ANY);
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(C_DROP);
		return 0;
	}
	if (fill(ctx, e, EV_PARK, g)) {
		bpf_ringbuf_discard(e, 0);
		count(C_READ_ERR);
		return 0;
	}
	e->reason = p.reason;
	submit(e);
	count(C_PARK);
	return 0;
}

// runtime.execute at its push %rbp: the g about to run in RAX (the cookie).
SEC("uprobe")
int goroscope_resume(struct pt_regs *ctx)
{
	if (!ours()) {
		count(C_OTHER);
		return 0;
	}
	__u64 g = reg(ctx, bpf_get_attach_cookie(ctx));
	__u64 goid;
	if (read_u64(&goid, g, goid_off)) {
		count(C_READ_ERR);
		return 0;
	}
	struct parked *p = bpf_map_lookup_elem(&parked, &goid);
	if (!p)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 since = p->ts;
	__u8 reason = p->reason;
	bpf_map_delete_elem(&parked, &goid);
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(C_DROP);
		return 0;
	}
	e->kind = EV_RESUME;
	e->reason = reason;
	e->pad = 0;
	e->stack_id = -1;
	e->ts = now;
	e->goid = goid;
	e->aux = now - since;
	e->gopc = 0;
	e->startpc = 0;
	submit(e);
	count(C_RESUME);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
