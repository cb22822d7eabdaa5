//! `lucc-rt`: the Rust half of the runtime linked into every lucc program.
//!
//! The C shim (`runtime-c/`, compiled into this crate's archive by
//! `build.rs`) defines the ABI the instrumented program calls
//! (`__lucc_*`, declared in `runtime-c/include/lucc_rt_abi.h`) as thin
//! wrappers over the `lucc_rt_*` functions here, which do the work:
//!
//! - `header`: the 16-byte header in front of each tracked object;
//! - `registry`: every live object, O(1) insert/remove, enumerable,
//!   sharded by thread behind `lock`'s spin locks;
//! - `heap`: the one seam raw blocks come from: the `arena` (a memfd-backed
//!   range the runtime chose, so an update can map the old heap at the same
//!   addresses) by default, libc with `LUCC_HEAP=libc`;
//! - `alloc`: malloc/free/realloc/aligned/retag on top of those;
//! - `report`: the `LUCC_HEAP_REPORT` file written at exit;
//! - `startup`: the record of startup calls and their replay in a new
//!   version; `control` and `update`: the control socket and the update's
//!   stages.
//!
//! Rust API for the rest of the runtime (the state transfer):
//! `registry::{for_each_object, snapshot, object_count, bytes}` over
//! `registry::HeapObject { addr, size, site, offset }`.
//!
//! Programs linking the archive need `-lpthread -ldl -lm -lrt` (the Rust
//! standard library's needs).

pub mod alloc;
pub mod arena;
pub mod control;
pub mod epoll;
pub mod header;
mod heap;
mod lock;
pub mod registry;
pub mod report;
pub mod update;
pub mod startup;
