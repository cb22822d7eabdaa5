//! The GNU build id of the running executable, read from its own loaded
//! note segments (no file access: /proc/self/exe may be replaced on disk
//! by the very update that asks).

use std::sync::OnceLock;

use libc::{c_int, c_void, dl_phdr_info, size_t};

/// Hex build id, or "" if the binary has none.
pub fn get() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut out = String::new();
        // SAFETY: the callback only reads the loader's phdr tables and the
        // mapped note segments they describe.
        unsafe { libc::dl_iterate_phdr(Some(first_object), &mut out as *mut String as *mut c_void) };
        out
    })
}

const NT_GNU_BUILD_ID: u32 = 3;

unsafe extern "C" fn first_object(info: *mut dl_phdr_info, _size: size_t, data: *mut c_void) -> c_int {
    let info = &*info;
    let out = &mut *(data as *mut String);
    for i in 0..usize::from(info.dlpi_phnum) {
        let ph = &*info.dlpi_phdr.add(i);
        if ph.p_type != libc::PT_NOTE {
            continue;
        }
        let seg = std::slice::from_raw_parts((info.dlpi_addr + ph.p_vaddr) as *const u8, ph.p_memsz as usize);
        if let Some(id) = find_build_id(seg) {
            *out = id.iter().map(|b| format!("{b:02x}")).collect();
            break;
        }
    }
    1 // the first object is the executable: stop
}

fn find_build_id(mut notes: &[u8]) -> Option<&[u8]> {
    let word = |b: &[u8], i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap());
    let pad = |n: usize| (n + 3) & !3;
    while notes.len() >= 12 {
        let (namesz, descsz, ty) = (word(notes, 0) as usize, word(notes, 4) as usize, word(notes, 8));
        let desc_at = 12 + pad(namesz);
        let end = desc_at + pad(descsz);
        if desc_at + descsz > notes.len() {
            return None;
        }
        if ty == NT_GNU_BUILD_ID && &notes[12..12 + namesz] == b"GNU\0" {
            return Some(&notes[desc_at..desc_at + descsz]);
        }
        notes = notes.get(end..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_gnu_note_after_another() {
        let mut n = Vec::new();
        for (name, ty, desc) in [(&b"XY\0"[..], 1u32, &[9u8, 9, 9][..]), (b"GNU\0", 3, &[0xab, 0xcd])] {
            n.extend((name.len() as u32).to_ne_bytes());
            n.extend((desc.len() as u32).to_ne_bytes());
            n.extend(ty.to_ne_bytes());
            n.extend(name);
            n.resize((n.len() + 3) & !3, 0);
            n.extend(desc);
            n.resize((n.len() + 3) & !3, 0);
        }
        assert_eq!(find_build_id(&n), Some(&[0xab, 0xcd][..]));
        assert_eq!(find_build_id(&n[..20]), None);
    }
}
