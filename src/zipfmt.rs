//! The few pieces of the zip format pylayer reads straight from bytes, where only part of a
//! file is at hand (the tail fetched with a range request): the end records and the central
//! directory, zip64 included.

/// Little-endian integers at an offset, `None` past the end.
pub fn u16_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as u64)
}
pub fn u32_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?) as u64)
}
pub fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

/// Locates the central directory from the tail of a zip: `(offset, size)`, including zip64.
pub fn central_directory(tail: &[u8], tail_start: u64) -> Option<(u64, u64)> {
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))?;
    let size = u32_at(tail, eocd + 12)?;
    let offset = u32_at(tail, eocd + 16)?;
    if size != 0xFFFF_FFFF && offset != 0xFFFF_FFFF {
        return Some((offset, size));
    }
    // Zip64: the locator sits right before the end record and points at the zip64 record.
    let loc = eocd.checked_sub(20)?;
    if !tail[loc..].starts_with(b"PK\x06\x07") {
        return None;
    }
    let rec = u64_at(tail, loc + 8)?.checked_sub(tail_start)? as usize;
    if !tail.get(rec..)?.starts_with(b"PK\x06\x06") {
        return None;
    }
    Some((u64_at(tail, rec + 48)?, u64_at(tail, rec + 40)?))
}
