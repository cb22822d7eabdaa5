//! The address-space side of an arena: a reserved virtual range whose
//! committed prefix is backed by a memfd.
//!
//! Why a memfd: its pages are the heap, so handing the fd to another
//! process (SCM_RIGHTS) hands it every object; that process maps it
//! MAP_PRIVATE at the same address and gets a copy-on-write view that
//! never writes the sender's memory. Why a reservation: PROT_NONE with
//! MAP_NORESERVE costs no memory, and keeping the whole span reserved
//! means nothing else (libc, the loader, a big mmap) lands inside it, so
//! the region can grow in place and a receiver can keep the range free.
//!
//! A region is *shared* (committed pages are the memfd's, MAP_SHARED: the
//! memfd is the truth) or *private* (copy-on-write or anonymous pages: the
//! mapping is the truth, and a handover must first copy it into a fresh
//! memfd). A region becomes private when it was adopted from another
//! process or when the process forked (a shared mapping would otherwise be
//! shared with the child).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::Relaxed};

use libc::{c_void, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED};

const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

/// Process-side state of one arena's range (the allocator's own state
/// lives inside the range, see `layout`).
pub struct Region {
    base: AtomicUsize,
    span: AtomicUsize,
    fd: AtomicI32,
    private: AtomicBool,
    /// The process whose memfd an adopted region maps (it is our parent
    /// while alive: the update spawned us), 0 for none.
    adopted_from: AtomicI32,
    /// Another process may map the memfd privately and see its later
    /// writes where it has not written itself: a fork child (or parent).
    forked: AtomicBool,
}

fn last_error<T>() -> io::Result<T> {
    Err(io::Error::last_os_error())
}

/// Reserves `[base, base + span)` without clobbering anything already there.
pub fn reserve(base: usize, span: usize) -> io::Result<()> {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping.
    let p = unsafe {
        libc::mmap(base as *mut c_void, span, libc::PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0)
    };
    if p == libc::MAP_FAILED {
        return last_error();
    }
    if p as usize != base {
        // Kernels before 4.17 ignore the flag and place the mapping elsewhere.
        unsafe { libc::munmap(p, span) };
        return Err(io::Error::from_raw_os_error(libc::EEXIST));
    }
    Ok(())
}

/// Turns `[addr, addr + len)`, inside a range this process reserved, back
/// into an inaccessible reservation.
///
/// # Safety
/// Nothing may use the memory any more.
pub unsafe fn unreserve_part(addr: usize, len: usize) -> io::Result<()> {
    let p = libc::mmap(addr as *mut c_void, len, libc::PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if p == libc::MAP_FAILED {
        return last_error();
    }
    Ok(())
}

/// Maps the first `len` bytes of another process's memfd copy-on-write
/// at `base`, over a reservation of this process's.
///
/// # Safety
/// `[base, base + len)` is this process's own unused reservation.
pub unsafe fn map_private(base: usize, len: usize, fd: i32) -> io::Result<()> {
    let mut st: libc::stat = std::mem::zeroed();
    if libc::fstat(fd, &mut st) != 0 {
        return last_error();
    }
    if (st.st_size as usize) < len {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the memfd is shorter than the region"));
    }
    let p = libc::mmap(base as *mut c_void, len, RW, MAP_PRIVATE | MAP_FIXED, fd, 0);
    if p == libc::MAP_FAILED {
        return last_error();
    }
    Ok(())
}

fn memfd() -> io::Result<i32> {
    // SAFETY: a plain syscall on a static name.
    let fd = unsafe { libc::memfd_create(c"lucc-heap".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return last_error();
    }
    Ok(fd)
}

impl Region {
    pub const fn new() -> Region {
        Region {
            base: AtomicUsize::new(0),
            span: AtomicUsize::new(0),
            fd: AtomicI32::new(-1),
            private: AtomicBool::new(false),
            adopted_from: AtomicI32::new(0),
            forked: AtomicBool::new(false),
        }
    }

    pub fn base(&self) -> usize {
        self.base.load(Relaxed)
    }

    pub fn span(&self) -> usize {
        self.span.load(Relaxed)
    }

    /// Whether `addr` lies in the reserved range: one subtraction and one
    /// comparison (an unset region has span 0 and owns nothing).
    #[inline]
    pub fn contains(&self, addr: usize) -> bool {
        addr.wrapping_sub(self.base.load(Relaxed)) < self.span.load(Relaxed)
    }

    /// A fresh shared region over the already reserved `[base, base + span)`
    /// with the first `len` bytes committed.
    pub fn create(&self, base: usize, span: usize, len: usize) -> io::Result<()> {
        let fd = memfd()?;
        self.fd.store(fd, Relaxed);
        self.private.store(false, Relaxed);
        self.base.store(base, Relaxed);
        self.commit(0, len)?;
        // Published last: `contains` must not claim a range not yet usable.
        self.span.store(span, Relaxed);
        Ok(())
    }

    /// Backs `[from, to)` (offsets) with memory. Callers serialise growth.
    pub fn commit(&self, from: usize, to: usize) -> io::Result<()> {
        let addr = (self.base() + from) as *mut c_void;
        // SAFETY: the range is inside this process's own reservation.
        let p = unsafe {
            if self.private.load(Relaxed) {
                libc::mmap(addr, to - from, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0)
            } else {
                let fd = self.fd.load(Relaxed);
                if libc::ftruncate(fd, to as i64) != 0 {
                    return last_error();
                }
                libc::mmap(addr, to - from, RW, MAP_SHARED | MAP_FIXED, fd, from as i64)
            }
        };
        if p == libc::MAP_FAILED {
            return last_error();
        }
        Ok(())
    }

    /// Makes an adopted mapping (see [`map_private`]) this region, which
    /// owns `fd` from now on.
    pub fn set_adopted(&self, base: usize, span: usize, fd: i32) {
        // SAFETY: a plain system call.
        self.adopted_from.store(unsafe { libc::getppid() }, Relaxed);
        self.forked.store(false, Relaxed);
        self.fd.store(fd, Relaxed);
        self.private.store(true, Relaxed);
        self.base.store(base, Relaxed);
        self.span.store(span, Relaxed);
    }

    /// Makes the committed prefix `[0, len)` private to this process: the
    /// same contents, but later writes no longer reach the memfd (fork's
    /// prepare step: parent and child then diverge copy-on-write, as with
    /// any other memory). Stores racing with the remap are not lost: they
    /// either reached the memfd before, or fault after and copy from it.
    pub fn make_private(&self, len: usize) -> io::Result<()> {
        // Parent and child both keep the memfd: neither may write it back.
        self.forked.store(true, Relaxed);
        if self.private.load(Relaxed) || self.span() == 0 {
            return Ok(());
        }
        let fd = self.fd.load(Relaxed);
        // SAFETY: remaps our own committed range onto the same contents.
        let p = unsafe { libc::mmap(self.base() as *mut c_void, len, RW, MAP_PRIVATE | MAP_FIXED, fd, 0) };
        if p == libc::MAP_FAILED {
            return last_error();
        }
        self.private.store(true, Relaxed);
        Ok(())
    }

    /// A memfd holding the committed prefix `[0, len)` as it is now. For a
    /// shared region that is its own memfd; a private one is copied into a
    /// fresh memfd, which then backs the region (shared again).
    pub fn memfd_for_handover(&self, len: usize) -> io::Result<i32> {
        if !self.private.load(Relaxed) {
            return Ok(self.fd.load(Relaxed));
        }
        if self.memfd_is_ours_alone() {
            // Only the pages this process wrote differ from its memfd.
            if let Ok(fd) = self.write_back(len) {
                return Ok(fd);
            }
        }
        let fd = memfd()?;
        let copied = (|| {
            if unsafe { libc::ftruncate(fd, len as i64) } != 0 {
                return last_error();
            }
            let mut off = 0;
            while off < len {
                // SAFETY: reads our own committed mapping.
                let n = unsafe { libc::pwrite(fd, (self.base() + off) as *const c_void, len - off, off as i64) };
                if n <= 0 {
                    return last_error();
                }
                off += n as usize;
            }
            let p = unsafe { libc::mmap(self.base() as *mut c_void, len, RW, MAP_SHARED | MAP_FIXED, fd, 0) };
            if p == libc::MAP_FAILED {
                return last_error();
            }
            Ok(())
        })();
        if let Err(e) = copied {
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let old = self.fd.swap(fd, Relaxed);
        if old >= 0 {
            unsafe { libc::close(old) };
        }
        self.private.store(false, Relaxed);
        Ok(fd)
    }

    /// Whether no other live process maps this adopted region's memfd: the
    /// process it was adopted from has exited (we are no longer its
    /// child), and no fork shared it since.
    fn memfd_is_ours_alone(&self) -> bool {
        let from = self.adopted_from.load(Relaxed);
        // SAFETY: a plain system call.
        from != 0 && !self.forked.load(Relaxed) && unsafe { libc::getppid() } != from && self.fd.load(Relaxed) >= 0
    }

    /// Makes a private region whose memfd is ours alone shared again, in
    /// time proportional to what this process wrote: its own copies of
    /// pages (`/proc/self/pagemap`: present and not file-backed, or
    /// swapped out) are written into the memfd, then the memfd is mapped
    /// shared over the range. Pages never written read as the memfd
    /// already. Program threads must be stopped (the update quiesced).
    fn write_back(&self, len: usize) -> io::Result<i32> {
        const PAGE: usize = 4096;
        // SAFETY: a plain system call.
        if unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize != PAGE || !len.is_multiple_of(PAGE) {
            return Err(io::Error::other("page size"));
        }
        let fd = self.fd.load(Relaxed);
        let base = self.base();
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat into a local.
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return last_error();
        }
        if (st.st_size as usize) < len && unsafe { libc::ftruncate(fd, len as i64) } != 0 {
            return last_error();
        }
        let pagemap = std::fs::File::open("/proc/self/pagemap")?;
        const PRESENT: u64 = 1 << 63;
        const SWAPPED: u64 = 1 << 62;
        const FILE: u64 = 1 << 61;
        let pages = len / PAGE;
        let mut entries = vec![0u64; 4096];
        let mut run: Option<(usize, usize)> = None; // (first page, pages)
        let flush = |run: &mut Option<(usize, usize)>| -> io::Result<()> {
            if let Some((first, n)) = run.take() {
                write_all_at(fd, base + first * PAGE, n * PAGE, first * PAGE)?;
            }
            Ok(())
        };
        let mut p = 0;
        while p < pages {
            let n = (pages - p).min(entries.len());
            let buf = unsafe { std::slice::from_raw_parts_mut(entries.as_mut_ptr().cast::<u8>(), n * 8) };
            read_exact_at(&pagemap, buf, ((base / PAGE + p) * 8) as u64)?;
            for (k, &e) in entries[..n].iter().enumerate() {
                let own = (e & PRESENT != 0 && e & FILE == 0) || e & SWAPPED != 0;
                let page = p + k;
                match (&mut run, own) {
                    (Some((first, len)), true) if *first + *len == page => *len += 1,
                    (_, true) => {
                        flush(&mut run)?;
                        run = Some((page, 1));
                    }
                    (_, false) => flush(&mut run)?,
                }
            }
            p += n;
        }
        flush(&mut run)?;
        // SAFETY: remaps our own committed range onto the same contents.
        let m = unsafe { libc::mmap(base as *mut c_void, len, RW, MAP_SHARED | MAP_FIXED, fd, 0) };
        if m == libc::MAP_FAILED {
            // The private pages are still mapped and the memfd only holds
            // more of the same: nothing lost, the caller copies instead.
            return last_error();
        }
        self.private.store(false, Relaxed);
        self.adopted_from.store(0, Relaxed);
        Ok(fd)
    }

    /// Returns the whole range to an inaccessible reservation and forgets it.
    ///
    /// # Safety
    /// Nothing may use the memory any more.
    pub unsafe fn release(&self) -> io::Result<()> {
        let (base, span) = (self.base(), self.span());
        self.span.store(0, Relaxed);
        unreserve_part(base, span)?;
        let fd = self.fd.swap(-1, Relaxed);
        if fd >= 0 {
            libc::close(fd);
        }
        Ok(())
    }

    /// Gives pages of a free extent back to the system; their contents are
    /// undefined afterwards (zero, or a private mapping's file contents).
    pub fn discard(&self, addr: usize, len: usize) {
        let advice = if self.private.load(Relaxed) { libc::MADV_DONTNEED } else { libc::MADV_REMOVE };
        // SAFETY: the range is free memory of this region. Failure only
        // means the pages stay resident.
        unsafe { libc::madvise(addr as *mut c_void, len, advice) };
    }

    /// Zeroes `[addr, addr + len)` (page aligned) without touching it when
    /// that is cheap: a shared region punches the pages out of the memfd,
    /// which then reads as zero and holds no memory. False when the caller
    /// must write the zeros itself (a private region: dropping its pages
    /// would bring back the file's contents).
    pub fn zero_pages(&self, addr: usize, len: usize) -> bool {
        // SAFETY: the range is a block of this region nobody uses yet.
        !self.private.load(Relaxed) && unsafe { libc::madvise(addr as *mut c_void, len, libc::MADV_REMOVE) } == 0
    }
}

fn write_all_at(fd: i32, addr: usize, len: usize, off: usize) -> io::Result<()> {
    let mut done = 0;
    while done < len {
        // SAFETY: reads our own committed mapping.
        let n = unsafe { libc::pwrite(fd, (addr + done) as *const c_void, len - done, (off + done) as i64) };
        if n <= 0 {
            return last_error();
        }
        done += n as usize;
    }
    Ok(())
}

fn read_exact_at(f: &std::fs::File, buf: &mut [u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, off)
}
