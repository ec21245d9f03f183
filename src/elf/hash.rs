//! Which dynamic symbols ld.so can find: it looks a name up only through the object's hash
//! table (`DT_GNU_HASH`, else `DT_HASH`), never by scanning `.dynsym`. A definition the
//! table does not lead to is no definition at all to the loader (a corrupt `.gnu.hash` gives
//! "undefined symbol"), and an object with neither table defines nothing.
//!
//! Every word is read through [`Image`], as the loader reads it from its mapping.

use super::image::Image;
use crate::error::Malformed;

/// An object's hash tables, by address (`DT_GNU_HASH`, `DT_HASH`).
pub struct Table<'a> {
    image: &'a Image<'a>,
    gnu_hash: Option<u64>,
    sysv_hash: Option<u64>,
    /// The bytes mapped from the table's address on, found once: every word of a lookup is
    /// read from them, where a search of the segments per word was most of a closure's
    /// lookups. A word past them is read through [`Image`], which says why it cannot be.
    mapped: Option<(u64, &'a [u8])>,
}

/// By symbol index, whether a lookup reaches it (as long as the names given; an index past
/// them is never reached).
type Found = std::result::Result<Vec<bool>, Malformed>;

impl<'a> Table<'a> {
    pub fn new(image: &'a Image<'a>, gnu_hash: Option<u64>, sysv_hash: Option<u64>) -> Self {
        let mapped = gnu_hash
            .or(sysv_hash)
            .and_then(|at| Some((at, image.mapped(at).ok()?)));
        Table {
            image,
            gnu_hash,
            sysv_hash,
            mapped,
        }
    }

    /// The symbol indexes that a lookup of each name of `wanted` reaches (every one of the
    /// name's chain, whatever its version: versions are matched later). `names` holds the
    /// name of every symbol a lookup may stop at (global and weak ones), by index, None for
    /// the others.
    pub fn findable(&self, wanted: &[&str], names: &[Option<&str>]) -> Found {
        match (self.gnu_hash, self.sysv_hash) {
            (Some(at), _) => self.gnu(at, wanted, names),
            (None, Some(at)) => self.sysv(at, wanted, names),
            (None, None) => Ok(vec![false; names.len()]),
        }
    }

    /// How many symbols the tables cover: past the last one, a symbol can be found by no
    /// lookup (0 without tables).
    pub fn symbol_count(&self) -> std::result::Result<u64, Malformed> {
        match (self.gnu_hash, self.sysv_hash) {
            (Some(at), _) => {
                let nbuckets = self.u32_at(at, 0)?;
                let symoffset = self.u32_at(at, 1)?;
                let nwords = self.u32_at(at, 2)?;
                let buckets = at.wrapping_add(16 + nwords * self.image.word_size() as u64);
                let mut last = 0;
                for b in 0..nbuckets {
                    last = last.max(self.u32_at(buckets, b)?);
                }
                if last < symoffset {
                    return Ok(symoffset);
                }
                let chains = buckets.wrapping_add(nbuckets * 4);
                while self.u32_at(chains, last - symoffset)? & 1 == 0 {
                    last += 1;
                }
                Ok(last + 1)
            }
            (None, Some(at)) => self.u32_at(at, 1),
            (None, None) => Ok(0),
        }
    }

    fn word(&self, at: u64, size: u64) -> std::result::Result<u64, Malformed> {
        let size = size as usize;
        if let Some((base, bytes)) = self.mapped
            && let Some(raw) = at
                .checked_sub(base)
                .and_then(|o| usize::try_from(o).ok())
                .and_then(|o| bytes.get(o..o.checked_add(size)?))
        {
            return Ok(self.image.decode(raw));
        }
        self.image.uint(at, size)
    }

    fn u32_at(&self, base: u64, index: u64) -> std::result::Result<u64, Malformed> {
        let at = index
            .checked_mul(4)
            .and_then(|d| base.checked_add(d))
            .ok_or_else(|| Malformed::from("hash table index out of range"))?;
        self.word(at, 4)
    }

    /// glibc's `_dl_setup_hash` and `do_lookup_x` over `DT_GNU_HASH`.
    fn gnu(&self, at: u64, wanted: &[&str], names: &[Option<&str>]) -> Found {
        let nbuckets = self.u32_at(at, 0)?;
        let symoffset = self.u32_at(at, 1)?;
        let nwords = self.u32_at(at, 2)?;
        let shift = self.u32_at(at, 3)?;
        if nwords == 0 || !nwords.is_power_of_two() {
            return Err(Malformed(format!(
                ".gnu.hash bloom filter of {nwords} words, not a power of two (ld.so asserts it is)"
            )));
        }
        if nbuckets == 0 {
            // ld.so skips an object without buckets in every lookup.
            return Ok(vec![false; names.len()]);
        }
        let class = if self.image.is_64() { 64 } else { 32 };
        let bloom = at.wrapping_add(16);
        let buckets = bloom.wrapping_add(nwords * (class / 8));
        let chains = buckets.wrapping_add(nbuckets * 4);
        let mut found = vec![false; names.len()];
        for &name in wanted {
            let h32 = gnu_hash(name);
            let h = u64::from(h32);
            let word = self.word(
                bloom.wrapping_add(((h / class) & (nwords - 1)) * (class / 8)),
                class / 8,
            )?;
            // The shift of a 32-bit value, as the hardware does it (count modulo 32).
            let second = u64::from(h32.wrapping_shr(shift as u32)) % class;
            if (word >> (h % class)) & (word >> second) & 1 == 0 {
                continue;
            }
            let mut i = self.u32_at(buckets, h % nbuckets)?;
            if i == 0 || i < symoffset {
                continue;
            }
            loop {
                let h2 = self.u32_at(chains, i - symoffset)?;
                if h | 1 == h2 | 1 {
                    mark(&mut found, names, i, name);
                }
                if h2 & 1 == 1 {
                    break;
                }
                i += 1;
            }
        }
        Ok(found)
    }

    /// The same over the System V `DT_HASH`; a chain is followed at most `nchain` steps.
    fn sysv(&self, at: u64, wanted: &[&str], names: &[Option<&str>]) -> Found {
        let nbucket = self.u32_at(at, 0)?;
        let nchain = self.u32_at(at, 1)?;
        if nbucket == 0 {
            return Ok(vec![false; names.len()]);
        }
        let buckets = at.wrapping_add(8);
        let chains = buckets.wrapping_add(nbucket * 4);
        let mut found = vec![false; names.len()];
        for &name in wanted {
            let mut i = self.u32_at(buckets, u64::from(sysv_hash(name)) % nbucket)?;
            let mut steps = 0;
            while i != 0 && steps <= nchain {
                mark(&mut found, names, i, name);
                i = self.u32_at(chains, i)?;
                steps += 1;
            }
        }
        Ok(found)
    }
}

/// Marks symbol `i` found when its name is `name`.
fn mark(found: &mut [bool], names: &[Option<&str>], i: u64, name: &str) {
    if let Ok(i) = usize::try_from(i)
        && names.get(i).copied().flatten() == Some(name)
        && let Some(f) = found.get_mut(i)
    {
        *f = true;
    }
}

/// The GNU hash function (`dl_new_hash`).
fn gnu_hash(name: &str) -> u32 {
    name.bytes().fold(5381u32, |h, c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

/// The System V ELF hash function (`_dl_elf_hash`).
fn sysv_hash(name: &str) -> u32 {
    name.bytes().fold(0u32, |h, c| {
        let h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        (h ^ (g >> 24)) & !g
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_functions_match_the_elf_gabi_and_gnu() {
        assert_eq!(gnu_hash(""), 5381);
        assert_eq!(gnu_hash("printf"), 0x156b2bb8);
        assert_eq!(sysv_hash("printf"), 0x077905a6);
    }
}
