//! The heap report a lucc-built program writes at exit when
//! `LUCC_HEAP_REPORT=PATH` is set: one JSON object per line,
//! `{"site":N,"offset":K,"count":C,"bytes":B}`, for the live heap objects of
//! each (site, offset).

use std::path::Path;

use anyhow::{Context, Result};
use lucc_abi::sidecar::Sidecar;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeapEntry {
    pub site: u64,
    pub offset: i64,
    pub count: u64,
    pub bytes: u64,
}

pub fn read(path: &Path) -> Result<Vec<HeapEntry>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).with_context(|| format!("heap report line {l:?}"))?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_i64()).with_context(|| format!("no {k} in {l:?}"));
            Ok(HeapEntry {
                site: field("site")? as u64,
                offset: field("offset")?,
                count: field("count")? as u64,
                bytes: field("bytes")? as u64,
            })
        })
        .collect()
}

/// Live objects whose site (per the sidecar) is typed `ty` (C spelling,
/// typedefs followed), with the function of the site.
pub fn entries_of_type<'a>(sidecar: &'a Sidecar, report: &'a [HeapEntry], ty: &str) -> Vec<(&'a str, &'a HeapEntry)> {
    report
        .iter()
        .filter_map(|e| {
            let site = sidecar.site(u32::try_from(e.site).ok()?)?;
            let t = sidecar.resolve(site.ty?)?;
            (t.name == ty).then_some((site.function.as_str(), e))
        })
        .collect()
}
