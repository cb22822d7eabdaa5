//! The C compile units of a linked binary's DWARF, as an owned tree.
//!
//! gimli's readers borrow the section data and resolve strings, indexed
//! addresses (DWARF 5's `strx`/`addrx`) and references per unit. The sidecar
//! needs to follow references across DIEs freely (a pointer's pointee, a
//! variable's specification) and to look at several units at once to
//! deduplicate types, so each DIE is read once into a plain [`Die`] with the
//! few attributes lucc uses already resolved, and every reference turned
//! into a `.debug_info` offset. Only units whose language is C are kept: the
//! Rust runtime linked into every program is not the program's state.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use gimli::{AttributeValue, DwTag, EndianSlice, LittleEndian, Operation};
use object::{Object, ObjectSection};

/// A `.debug_info` offset: identifies a DIE across all units.
pub type DieRef = u64;

/// How `DW_AT_high_pc` was given.
#[derive(Debug, Clone, Copy)]
pub enum HighPc {
    Addr(u64),
    Offset(u64),
}

/// One DIE with the attributes the sidecar reads.
#[derive(Debug, Clone)]
pub struct Die {
    pub at: DieRef,
    pub tag: DwTag,
    /// Index of the compile unit in [`Program::units`].
    pub unit: usize,
    pub name: Option<String>,
    pub ty: Option<DieRef>,
    pub byte_size: Option<u64>,
    pub bit_size: Option<u64>,
    /// DWARF 5 style: bits from the start of the enclosing type.
    pub data_bit_offset: Option<u64>,
    /// DWARF 4 style: bits from the most significant bit of the storage unit.
    pub bit_offset: Option<u64>,
    pub member_location: Option<u64>,
    pub declaration: bool,
    pub external: bool,
    pub specification: Option<DieRef>,
    pub abstract_origin: Option<DieRef>,
    /// Static address of a variable whose location is a plain address.
    pub address: Option<u64>,
    /// What `DW_AT_location` says when it is not a plain address; `None`
    /// without the attribute or with a plain address.
    pub other_location: Option<OtherLocation>,
    pub low_pc: Option<u64>,
    pub high_pc: Option<HighPc>,
    pub const_value: Option<i64>,
    /// Subrange length: `DW_AT_count`, or `DW_AT_upper_bound` + 1.
    pub count: Option<u64>,
    pub encoding: Option<u8>,
    /// Index of the enclosing DIE in [`Program::dies`]; `None` for a unit's root.
    pub parent: Option<usize>,
    pub children: Vec<usize>,
}

/// A variable location that is no single fixed address: the shapes the
/// optimiser leaves behind for state it rewrote, told apart so that the
/// sidecar can say what happened to the variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherLocation {
    /// `DW_OP_piece`s of which at least one is in memory at a fixed
    /// address: the optimiser split the variable into separate globals.
    Pieces,
    /// Thread-local storage (`DW_OP_form_tls_address`).
    ThreadLocal,
    /// A value computed from memory at a fixed address (`DW_OP_addr`,
    /// `DW_OP_deref_size`, arithmetic): the optimiser changed how the
    /// variable is stored, e.g. shrank a two-valued global to a flag.
    Derived,
    /// Anything else: a register, a computed value, a location list.
    Computed,
}

pub struct Unit {
    /// `DW_AT_name`: the source file as the compiler was given it.
    pub name: String,
    /// The source file's path, joined to `DW_AT_comp_dir` when relative
    /// and with `.` and `..` resolved lexically, to be matched against the
    /// absolute paths fragments carry.
    pub path: PathBuf,
    /// Index of the unit's root DIE.
    pub root: usize,
}

/// The C part of a binary's DWARF.
pub struct Program {
    pub units: Vec<Unit>,
    /// All DIEs of the C units, in `.debug_info` order.
    pub dies: Vec<Die>,
    index: HashMap<DieRef, usize>,
}

impl Program {
    pub fn die(&self, at: DieRef) -> Option<&Die> {
        self.index.get(&at).map(|&i| &self.dies[i])
    }

    /// The name of a DIE, looking through `DW_AT_specification` and
    /// `DW_AT_abstract_origin` (definitions split from declarations, and
    /// concrete instances of inlined functions, carry no name themselves).
    pub fn name_of(&self, die: &Die) -> Option<String> {
        self.follow(die, |d| d.name.clone())
    }

    pub fn type_of(&self, die: &Die) -> Option<DieRef> {
        self.follow(die, |d| d.ty)
    }

    pub fn external(&self, die: &Die) -> bool {
        self.follow(die, |d| d.external.then_some(())).is_some()
    }

    fn follow<T>(&self, die: &Die, get: impl Fn(&Die) -> Option<T>) -> Option<T> {
        let mut d = die;
        for _ in 0..8 {
            if let Some(v) = get(d) {
                return Some(v);
            }
            d = self.die(d.specification.or(d.abstract_origin)?)?;
        }
        None
    }
}

/// Resolves `.` and `..` without touching the file system (the sources
/// may be gone by the time the sidecar is written).
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn is_c(lang: u16) -> bool {
    use gimli::constants::*;
    [
        DW_LANG_C89,
        DW_LANG_C,
        DW_LANG_C99,
        DW_LANG_C11,
        DW_LANG_C17,
    ]
    .iter()
    .any(|l| l.0 == lang)
}

/// Reads the C compile units of `file`.
pub fn load(file: &object::File<'_>) -> Result<Program> {
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'_, [u8]>> {
        match file.section_by_name(id.name()) {
            Some(s) => Ok(s
                .uncompressed_data()
                .with_context(|| format!("section {}", id.name()))?),
            None => Ok(Cow::Borrowed(&[][..])),
        }
    })?;
    let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
    let mut program = Program {
        units: Vec::new(),
        dies: Vec::new(),
        index: HashMap::new(),
    };
    let mut headers = dwarf.units();
    while let Some(header) = headers.next()? {
        let unit = dwarf.unit(header)?;
        read_unit(&dwarf, &unit, &mut program)?;
    }
    Ok(program)
}

type R<'a> = EndianSlice<'a, LittleEndian>;

fn read_unit(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    out: &mut Program,
) -> Result<()> {
    let mut cursor = unit.entries();
    // Indices of the open ancestors of the next entry, by depth.
    let mut stack: Vec<usize> = Vec::new();
    let unit_index = out.units.len();
    while let Some(entry) = cursor.next_dfs()? {
        let depth = entry.depth();
        if depth == 0 {
            let lang = match entry.attr_value(gimli::DW_AT_language) {
                Some(AttributeValue::Language(l)) => l.0,
                _ => 0,
            };
            if !is_c(lang) {
                return Ok(());
            }
        }
        let mut die = read_die(dwarf, unit, entry, unit_index)?;
        let index = out.dies.len();
        stack.truncate(depth as usize);
        die.parent = stack.last().copied();
        out.index.insert(die.at, index);
        out.dies.push(die);
        if let Some(&parent) = stack.last() {
            out.dies[parent].children.push(index);
        }
        stack.push(index);
    }
    if let Some(&root) = stack.first() {
        let name = out.dies[root].name.clone().unwrap_or_default();
        let dir = unit
            .comp_dir
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = normalise(&Path::new(&dir).join(&name));
        out.units.push(Unit { name, path, root });
    }
    Ok(())
}

fn read_die(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    entry: &gimli::DebuggingInformationEntry<R<'_>>,
    unit_index: usize,
) -> Result<Die> {
    let header = &unit.header;
    let at = entry
        .offset()
        .to_debug_info_offset(header)
        .map(|o| o.0 as u64)
        .unwrap_or_default();
    let mut die = Die {
        at,
        tag: entry.tag(),
        unit: unit_index,
        name: None,
        ty: None,
        byte_size: None,
        bit_size: None,
        data_bit_offset: None,
        bit_offset: None,
        member_location: None,
        declaration: false,
        external: false,
        specification: None,
        abstract_origin: None,
        address: None,
        other_location: None,
        low_pc: None,
        high_pc: None,
        const_value: None,
        count: None,
        encoding: None,
        parent: None,
        children: Vec::new(),
    };
    let reference = |v: AttributeValue<R<'_>>| -> Option<DieRef> {
        match v {
            AttributeValue::UnitRef(o) => o.to_debug_info_offset(header).map(|o| o.0 as u64),
            AttributeValue::DebugInfoRef(o) => Some(o.0 as u64),
            _ => None,
        }
    };
    for attr in entry.attrs() {
        let v = attr.value();
        match attr.name() {
            gimli::DW_AT_name => {
                let s = dwarf.attr_string(unit, v)?;
                die.name = Some(s.to_string_lossy().into_owned());
            }
            gimli::DW_AT_type => die.ty = reference(v),
            gimli::DW_AT_specification => die.specification = reference(v),
            gimli::DW_AT_abstract_origin => die.abstract_origin = reference(v),
            gimli::DW_AT_byte_size => die.byte_size = v.udata_value(),
            gimli::DW_AT_bit_size => die.bit_size = v.udata_value(),
            gimli::DW_AT_data_bit_offset => die.data_bit_offset = v.udata_value(),
            gimli::DW_AT_bit_offset => die.bit_offset = v.udata_value(),
            gimli::DW_AT_data_member_location => {
                die.member_location = match v.exprloc_value() {
                    // DWARF 2 style: `DW_OP_plus_uconst N`.
                    Some(expr) => match expr.operations(header.encoding()).next()? {
                        Some(Operation::PlusConstant { value }) => Some(value),
                        _ => None,
                    },
                    None => v.udata_value(),
                }
            }
            gimli::DW_AT_declaration => die.declaration = matches!(v, AttributeValue::Flag(true)),
            gimli::DW_AT_external => die.external = matches!(v, AttributeValue::Flag(true)),
            gimli::DW_AT_location => match v.exprloc_value() {
                Some(expr) => match static_address(dwarf, unit, expr.clone())? {
                    Some(address) => die.address = Some(address),
                    None => die.other_location = Some(other_location(unit, expr)),
                },
                None => die.other_location = Some(OtherLocation::Computed),
            },
            gimli::DW_AT_low_pc => die.low_pc = dwarf.attr_address(unit, v)?,
            gimli::DW_AT_high_pc => {
                die.high_pc = match v {
                    AttributeValue::Addr(a) => Some(HighPc::Addr(a)),
                    other => other.udata_value().map(HighPc::Offset),
                }
            }
            gimli::DW_AT_const_value => {
                die.const_value = match v {
                    AttributeValue::Sdata(s) => Some(s),
                    AttributeValue::Udata(u) => Some(u as i64),
                    other => other.udata_value().map(|u| u as i64),
                }
            }
            gimli::DW_AT_count => die.count = v.udata_value(),
            gimli::DW_AT_upper_bound => {
                // clang marks unknown bounds with -1 in some versions.
                die.count = match v {
                    AttributeValue::Sdata(s) if s < 0 => None,
                    other => other
                        .udata_value()
                        .map(|u| u.wrapping_add(1))
                        .filter(|&c| c != 0),
                }
            }
            gimli::DW_AT_encoding => {
                if let AttributeValue::Encoding(e) = v {
                    die.encoding = Some(e.0);
                }
            }
            _ => {}
        }
    }
    Ok(die)
}

/// The address of a variable stored at a fixed place: `DW_OP_addr A` or
/// `DW_OP_addrx I`, optionally followed by `DW_OP_plus_uconst`. Anything
/// else (thread-locals, values folded into `DW_OP_stack_value`, registers)
/// has no static address and is not state the sidecar can describe.
fn static_address(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    expr: gimli::Expression<R<'_>>,
) -> Result<Option<u64>> {
    let mut ops = expr.operations(unit.encoding());
    let mut address = match ops.next()? {
        Some(Operation::Address { address }) => address,
        Some(Operation::AddressIndex { index }) => dwarf.address(unit, index)?,
        _ => return Ok(None),
    };
    while let Some(op) = ops.next()? {
        match op {
            Operation::PlusConstant { value } => address = address.wrapping_add(value),
            _ => return Ok(None),
        }
    }
    Ok(Some(address))
}

/// What a location that `static_address` refused is. An expression gimli
/// cannot parse counts as computed.
fn other_location(unit: &gimli::Unit<R<'_>>, expr: gimli::Expression<R<'_>>) -> OtherLocation {
    let mut ops = expr.operations(unit.encoding());
    let (mut addressed, mut pieces, mut deref) = (false, false, false);
    while let Ok(Some(op)) = ops.next() {
        match op {
            Operation::TLS => return OtherLocation::ThreadLocal,
            Operation::Address { .. } | Operation::AddressIndex { .. } => addressed = true,
            Operation::Piece { .. } => pieces = true,
            Operation::Deref { .. } => deref = true,
            _ => {}
        }
    }
    match (addressed, pieces, deref) {
        (true, true, _) => OtherLocation::Pieces,
        (true, false, true) => OtherLocation::Derived,
        _ => OtherLocation::Computed,
    }
}
