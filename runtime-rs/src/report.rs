//! The heap report: live objects grouped by (site, offset), written at exit
//! as JSON lines when `LUCC_HEAP_REPORT=PATH` is set.
//!
//! Why: tests (and people) check attribution from outside the process,
//! e.g. that objects allocated through wrappers end up at the outer site.
//! The path is read at startup so the program's own setenv/clearenv cannot
//! change where the report goes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::sync::OnceLock;

use crate::registry::{self, HeapObject};

static REPORT_PATH: OnceLock<Option<OsString>> = OnceLock::new();

/// Live objects grouped by (site, offset): (count, bytes), sorted.
pub fn group(objects: &[HeapObject]) -> BTreeMap<(u32, u16), (usize, usize)> {
    let mut groups = BTreeMap::new();
    for o in objects {
        let g = groups.entry((o.site, o.offset)).or_insert((0, 0));
        g.0 += 1;
        g.1 += o.size;
    }
    groups
}

/// One JSON line per group.
pub fn render(objects: &[HeapObject]) -> String {
    group(objects)
        .iter()
        .map(|((site, offset), (count, bytes))| {
            format!("{{\"site\":{site},\"offset\":{offset},\"count\":{count},\"bytes\":{bytes}}}\n")
        })
        .collect()
}

/// Called once by the C constructor.
#[no_mangle]
pub extern "C" fn lucc_rt_init() {
    REPORT_PATH.get_or_init(|| std::env::var_os("LUCC_HEAP_REPORT").filter(|p| !p.is_empty()));
}

/// Called at exit (registered by the C constructor).
#[no_mangle]
pub extern "C" fn lucc_rt_fini() {
    let Some(Some(path)) = REPORT_PATH.get() else { return };
    let text = render(&registry::snapshot());
    let written = std::fs::File::create(path).and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        // Not eprintln!: it panics when stderr is closed, and a panic here
        // would abort the exiting program.
        let _ = writeln!(std::io::stderr(), "lucc: cannot write heap report {}: {e}", path.to_string_lossy());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_site_and_offset() {
        let o = |site, offset, size| HeapObject { addr: 0, size, site, offset };
        let text = render(&[o(5, 8, 10), o(5, 8, 30), o(5, 0, 7), o(2, 0, 1)]);
        assert_eq!(
            text,
            "{\"site\":2,\"offset\":0,\"count\":1,\"bytes\":1}\n\
             {\"site\":5,\"offset\":0,\"count\":1,\"bytes\":7}\n\
             {\"site\":5,\"offset\":8,\"count\":2,\"bytes\":40}\n"
        );
    }
}
