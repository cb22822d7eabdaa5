//! The registry's lock: a test-and-set spin lock that yields when it spins
//! for long, and is skipped while the process has a single thread.
//!
//! Why not `std::sync::Mutex`: its lock and unlock are each an atomic
//! read-modify-write; here unlock is a plain release store, which halves
//! the cost of the very short critical sections around every malloc and
//! free. Why skip it: glibc keeps `__libc_single_threaded` true until the
//! first thread is created, and only the one thread can create another,
//! so no thread can appear while it sits in a critical section it entered
//! without the lock. glibc's own malloc relies on the same flag.
//!
//! fork: the runtime takes every lock before fork and releases them after
//! in both processes (`at_fork_*`), so a child never inherits a lock
//! held by a thread that does not exist there.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

extern "C" {
    static __libc_single_threaded: libc::c_char;
}

#[inline]
pub(crate) fn single_threaded() -> bool {
    // SAFETY: a plain byte glibc maintains; reading it is what its
    // documentation (sys/single_threaded.h) invites.
    unsafe { std::ptr::read_volatile(std::ptr::addr_of!(__libc_single_threaded)) != 0 }
}

pub struct SpinLock<T> {
    held: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises all access to `data`.
unsafe impl<T: Send> Sync for SpinLock<T> {}
unsafe impl<T: Send> Send for SpinLock<T> {}

pub struct Guard<'a, T> {
    lock: &'a SpinLock<T>,
    locked: bool,
}

impl<T> SpinLock<T> {
    pub const fn new(data: T) -> SpinLock<T> {
        SpinLock { held: AtomicBool::new(false), data: UnsafeCell::new(data) }
    }

    #[inline]
    pub fn lock(&self) -> Guard<'_, T> {
        if single_threaded() {
            return Guard { lock: self, locked: false };
        }
        self.acquire();
        Guard { lock: self, locked: true }
    }

    fn acquire(&self) {
        let mut spins = 0u32;
        while self.held.swap(true, Ordering::Acquire) {
            while self.held.load(Ordering::Relaxed) {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    // The holder may be descheduled (2 cores, many threads).
                    std::thread::yield_now();
                }
            }
        }
    }

    /// Takes the lock even while single-threaded (fork's prepare step).
    pub fn lock_for_fork(&self) {
        self.acquire();
    }

    /// Releases a lock taken by [`Self::lock_for_fork`].
    pub fn unlock_after_fork(&self) {
        self.held.store(false, Ordering::Release);
    }
}

impl<T> std::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: held, or the process has only this thread.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> std::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for Deref.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.locked {
            self.lock.held.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_concurrent_writers() {
        let l = Arc::new(SpinLock::new(0u64));
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        // A non-atomic read-modify-write that loses
                        // updates unless the lock excludes.
                        let mut g = l.lock();
                        let v = *g;
                        std::hint::black_box(&v);
                        *g = v + 1;
                    }
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*l.lock(), 400_000);
    }
}
