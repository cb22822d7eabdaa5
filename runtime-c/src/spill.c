/* spill.c: run a function with the caller's registers on the stack.
 *
 * The transfer stage rewrites the program's pointers into objects its own
 * startup allocated (they move into the adopted heap). Some of those live
 * only in the caller's callee-saved registers (a loop's `server *s` kept
 * in rbx across the event loop). Declaring them clobbered makes the
 * compiler save them in this frame's prologue and reload them in its
 * epilogue: the stack scan between sees (and may rewrite) every one, and
 * the rewritten values are what the program resumes with. `marker` is the
 * lowest address of the program's part of the stack: the runtime's own
 * frames below it are not scanned. */
#include <stddef.h>

void lucc_rt_spilled_call(void (*fn)(void *arg, void *marker), void *arg) {
    volatile char marker = 0;
    __asm__ volatile("" ::: "rbx", "rbp", "r12", "r13", "r14", "r15", "memory");
    fn(arg, (void *)&marker);
    __asm__ volatile("" ::: "rbx", "rbp", "r12", "r13", "r14", "r15", "memory");
    (void)marker;
}
