//! A small zip writer that takes entries whose data is already compressed and writes every
//! header field itself, so the archive's bytes depend only on the entries.
//!
//! The zip crate's own raw copy (`raw_copy_file_rename`) keeps the source entry's timestamp,
//! comment and extra fields (Info-ZIP unix uid/gid, NTFS times…), and its `raw_copy_file_touch`
//! resets the time but cannot rename; neither lets us decide every header byte. The format is
//! simple enough to write directly: a local header and the data for each entry, then the
//! central directory and its end record, with ZIP64 records only where a size, an offset or
//! the entry count does not fit the classic fields. No data descriptors, no extra fields
//! besides ZIP64, no comments. The writer only appends, so the output can be hashed as it is
//! written.

use std::io::{self, Read, Write};

const LOCAL_HEADER_SIG: u32 = 0x0403_4b50;
const CENTRAL_HEADER_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// General purpose flag bit 11: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
/// "Made by" host system: Unix, so readers honour the mode in the external attributes.
const HOST_UNIX: u16 = 3 << 8;
const U32_MAX: u64 = 0xFFFF_FFFF;
const U16_MAX: u64 = 0xFFFF;

/// Compression methods a copied entry may use: stored and deflate (what every wheel builder
/// writes and every Python can read without optional modules).
pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATE: u16 = 8;

/// One entry to write: its name and the facts about its already-compressed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    pub name: String,
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    /// Full unix mode, file type included (`0o100644`).
    pub unix_mode: u32,
}

/// MS-DOS date and time, the only timestamp we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DosDateTime {
    pub date: u16,
    pub time: u16,
}

impl DosDateTime {
    /// 1980-01-01 00:00:00, the earliest time a zip can record.
    pub const EPOCH: DosDateTime = DosDateTime {
        date: (1 << 5) | 1,
        time: 0,
    };

    /// The UTC time `secs` seconds after 1970, clamped to what MS-DOS time can represent
    /// (1980-01-01 to 2107-12-31, in 2-second steps).
    pub fn from_unix(secs: u64) -> DosDateTime {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = crate::civil_date::civil_from_days(days);
        if y < 1980 {
            return DosDateTime::EPOCH;
        }
        if y > 2107 {
            return DosDateTime {
                date: ((2107 - 1980) << 9) | (12 << 5) | 31,
                time: (23 << 11) | (59 << 5) | 29,
            };
        }
        let (hh, mm, ss) = (rem / 3600, (rem / 60) % 60, rem % 60);
        DosDateTime {
            date: (((y - 1980) as u16) << 9) | ((m as u16) << 5) | d as u16,
            time: ((hh as u16) << 11) | ((mm as u16) << 5) | (ss as u16 / 2),
        }
    }
}

/// What the central directory needs to remember about a written entry.
struct Written {
    header: EntryHeader,
    offset: u64,
}

/// Appends entries to `W` and writes the central directory on `finish`.
pub struct RawZipWriter<W: Write> {
    out: W,
    position: u64,
    time: DosDateTime,
    entries: Vec<Written>,
}

impl<W: Write> RawZipWriter<W> {
    /// Every entry gets the same timestamp, `time`.
    pub fn new(out: W, time: DosDateTime) -> Self {
        RawZipWriter {
            out,
            position: 0,
            time,
            entries: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    /// Writes one entry whose compressed data is read from `data`, which must yield exactly
    /// `header.compressed_size` bytes.
    pub fn add(&mut self, header: EntryHeader, data: &mut dyn Read) -> io::Result<()> {
        let offset = self.position;
        let zip64 = header.compressed_size >= U32_MAX || header.uncompressed_size >= U32_MAX;
        let name = header.name.as_bytes();
        let name_len = u16::try_from(name.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("entry name longer than 65535 bytes: {}", header.name),
            )
        })?;
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend_from_slice(&LOCAL_HEADER_SIG.to_le_bytes());
        h.extend_from_slice(&version_needed(zip64, header.method).to_le_bytes());
        h.extend_from_slice(&flags(&header.name).to_le_bytes());
        h.extend_from_slice(&header.method.to_le_bytes());
        h.extend_from_slice(&self.time.time.to_le_bytes());
        h.extend_from_slice(&self.time.date.to_le_bytes());
        h.extend_from_slice(&header.crc32.to_le_bytes());
        if zip64 {
            h.extend_from_slice(&u32::MAX.to_le_bytes());
            h.extend_from_slice(&u32::MAX.to_le_bytes());
        } else {
            h.extend_from_slice(&(header.compressed_size as u32).to_le_bytes());
            h.extend_from_slice(&(header.uncompressed_size as u32).to_le_bytes());
        }
        h.extend_from_slice(&name_len.to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(name);
        if zip64 {
            h.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&header.uncompressed_size.to_le_bytes());
            h.extend_from_slice(&header.compressed_size.to_le_bytes());
        }
        self.put(&h)?;
        let copied = io::copy(&mut data.take(header.compressed_size), &mut self.out)?;
        self.position += copied;
        if copied != header.compressed_size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: expected {} bytes of compressed data, found {copied}",
                    header.name, header.compressed_size
                ),
            ));
        }
        self.entries.push(Written { header, offset });
        Ok(())
    }

    /// Writes the central directory and end records and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        let cd_start = self.position;
        let entries = std::mem::take(&mut self.entries);
        for w in &entries {
            let e = &w.header;
            let mut extra = Vec::new();
            let usize32 = if e.uncompressed_size >= U32_MAX {
                extra.extend_from_slice(&e.uncompressed_size.to_le_bytes());
                u32::MAX
            } else {
                e.uncompressed_size as u32
            };
            let csize32 = if e.compressed_size >= U32_MAX {
                extra.extend_from_slice(&e.compressed_size.to_le_bytes());
                u32::MAX
            } else {
                e.compressed_size as u32
            };
            let offset32 = if w.offset >= U32_MAX {
                extra.extend_from_slice(&w.offset.to_le_bytes());
                u32::MAX
            } else {
                w.offset as u32
            };
            let zip64 = !extra.is_empty();
            let needed = version_needed(zip64, e.method);
            let mut h = Vec::with_capacity(46 + e.name.len() + 28);
            h.extend_from_slice(&CENTRAL_HEADER_SIG.to_le_bytes());
            h.extend_from_slice(&(HOST_UNIX | needed).to_le_bytes());
            h.extend_from_slice(&needed.to_le_bytes());
            h.extend_from_slice(&flags(&e.name).to_le_bytes());
            h.extend_from_slice(&e.method.to_le_bytes());
            h.extend_from_slice(&self.time.time.to_le_bytes());
            h.extend_from_slice(&self.time.date.to_le_bytes());
            h.extend_from_slice(&e.crc32.to_le_bytes());
            h.extend_from_slice(&csize32.to_le_bytes());
            h.extend_from_slice(&usize32.to_le_bytes());
            h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            let extra_len = if zip64 { extra.len() as u16 + 4 } else { 0 };
            h.extend_from_slice(&extra_len.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // comment length
            h.extend_from_slice(&0u16.to_le_bytes()); // disk number start
            h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            h.extend_from_slice(&(e.unix_mode << 16).to_le_bytes());
            h.extend_from_slice(&offset32.to_le_bytes());
            h.extend_from_slice(e.name.as_bytes());
            if zip64 {
                h.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
                h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
                h.extend_from_slice(&extra);
            }
            self.put(&h)?;
        }
        let cd_end = self.position;
        let cd_size = cd_end - cd_start;
        let count = entries.len() as u64;
        let zip64 = count >= U16_MAX || cd_size >= U32_MAX || cd_start >= U32_MAX;
        let mut t = Vec::with_capacity(22 + 56 + 20);
        if zip64 {
            t.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
            t.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of this record
            t.extend_from_slice(&(HOST_UNIX | 45).to_le_bytes());
            t.extend_from_slice(&45u16.to_le_bytes());
            t.extend_from_slice(&0u32.to_le_bytes()); // this disk
            t.extend_from_slice(&0u32.to_le_bytes()); // disk with the central directory
            t.extend_from_slice(&count.to_le_bytes());
            t.extend_from_slice(&count.to_le_bytes());
            t.extend_from_slice(&cd_size.to_le_bytes());
            t.extend_from_slice(&cd_start.to_le_bytes());
            t.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
            t.extend_from_slice(&0u32.to_le_bytes());
            t.extend_from_slice(&cd_end.to_le_bytes()); // offset of the ZIP64 end record
            t.extend_from_slice(&1u32.to_le_bytes()); // total disks
        }
        let count16 = count.min(U16_MAX) as u16;
        t.extend_from_slice(&EOCD_SIG.to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes());
        t.extend_from_slice(&count16.to_le_bytes());
        t.extend_from_slice(&count16.to_le_bytes());
        t.extend_from_slice(&(cd_size.min(U32_MAX) as u32).to_le_bytes());
        t.extend_from_slice(&(cd_start.min(U32_MAX) as u32).to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.put(&t)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// PKZIP version needed to extract: 4.5 for ZIP64, 2.0 for deflate, 1.0 for stored.
fn version_needed(zip64: bool, method: u16) -> u16 {
    if zip64 {
        45
    } else if method == METHOD_STORED {
        10
    } else {
        20
    }
}

/// Bit 11 for non-ASCII names, so every reader decodes them as UTF-8.
fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { FLAG_UTF8 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn dos_time_conversion() {
        assert_eq!(DosDateTime::from_unix(0), DosDateTime::EPOCH);
        // 2024-02-29 12:34:56 UTC
        let t = DosDateTime::from_unix(1_709_210_096);
        assert_eq!(t.date >> 9, 2024 - 1980);
        assert_eq!((t.date >> 5) & 0xF, 2);
        assert_eq!(t.date & 0x1F, 29);
        assert_eq!(t.time >> 11, 12);
        assert_eq!((t.time >> 5) & 0x3F, 34);
        assert_eq!((t.time & 0x1F) * 2, 56);
        // 1980-01-01 00:00:00 UTC exactly
        assert_eq!(DosDateTime::from_unix(315_532_800), DosDateTime::EPOCH);
        let far = DosDateTime::from_unix(u64::from(u32::MAX) * 4);
        assert_eq!(far.date >> 9, 127);
    }

    #[test]
    fn zip64_end_records_when_more_than_65535_entries() {
        let mut w = RawZipWriter::new(Cursor::new(Vec::new()), DosDateTime::EPOCH);
        let n = 65_540;
        for i in 0..n {
            let h = EntryHeader {
                name: format!("f{i:06}"),
                method: METHOD_STORED,
                crc32: 0,
                compressed_size: 0,
                uncompressed_size: 0,
                unix_mode: 0o100644,
            };
            w.add(h, &mut io::empty()).unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        let archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), n);
        assert_eq!(archive.name_for_index(n - 1).unwrap().unwrap(), "f065539");
    }

    #[test]
    fn short_data_is_an_error() {
        let mut w = RawZipWriter::new(Vec::new(), DosDateTime::EPOCH);
        let h = EntryHeader {
            name: "x".into(),
            method: METHOD_STORED,
            crc32: 0,
            compressed_size: 10,
            uncompressed_size: 10,
            unix_mode: 0o100644,
        };
        let err = w.add(h, &mut Cursor::new(vec![1u8; 4])).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
