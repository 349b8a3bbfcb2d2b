//! The unzipped size of a zip served over HTTP, from its central directory alone (two range
//! requests), so `attach` can check Lambda's 250 MB limit without downloading layers.

use reqwest::header;

use crate::http::{redact, send_with_retry};
use crate::zipfmt::{central_directory, u16_at, u32_at, u64_at};

const TAIL: u64 = 64 * 1024;

/// Sums the uncompressed sizes of a central directory's entries.
pub fn total_uncompressed(cd: &[u8]) -> Option<u64> {
    let mut i = 0;
    let mut total = 0u64;
    while cd.get(i..i + 4) == Some(b"PK\x01\x02") {
        let mut usize_ = u32_at(cd, i + 24)?;
        let nlen = u16_at(cd, i + 28)? as usize;
        let elen = u16_at(cd, i + 30)? as usize;
        let clen = u16_at(cd, i + 32)? as usize;
        if usize_ == 0xFFFF_FFFF {
            // The zip64 extra field holds the real size first.
            let extra = cd.get(i + 46 + nlen..i + 46 + nlen + elen)?;
            let mut j = 0;
            while j + 4 <= extra.len() {
                let id = u16_at(extra, j)?;
                let len = u16_at(extra, j + 2)? as usize;
                if id == 1 {
                    usize_ = u64_at(extra, j + 4)?;
                    break;
                }
                j += 4 + len;
            }
        }
        total += usize_;
        i += 46 + nlen + elen + clen;
    }
    Some(total)
}

async fn range(
    client: &reqwest::Client,
    url: &str,
    spec: &str,
) -> anyhow::Result<(Vec<u8>, Option<u64>)> {
    let resp = send_with_retry(|| client.get(url).header(header::RANGE, spec), url).await?;
    let status = resp.status();
    if !status.is_success() {
        anyhow::bail!("{} answered HTTP {status}", redact(url));
    }
    let total = crate::http::content_range_total(resp.headers());
    let partial = status == reqwest::StatusCode::PARTIAL_CONTENT;
    let body = resp.bytes().await?.to_vec();
    let total = if partial {
        total
    } else {
        Some(body.len() as u64)
    };
    Ok((body, total))
}

/// The total unzipped size of the zip at `url`.
pub async fn unzipped_size(client: &reqwest::Client, url: &str) -> anyhow::Result<u64> {
    let (tail, total) = range(client, url, &format!("bytes=-{TAIL}")).await?;
    let total = total.unwrap_or(tail.len() as u64);
    let tail_start = total.saturating_sub(tail.len() as u64);
    let (offset, size) = central_directory(&tail, tail_start).ok_or_else(|| {
        anyhow::anyhow!(
            "{} is not a readable zip (no end of central directory)",
            redact(url)
        )
    })?;
    let cd = if offset >= tail_start {
        let s = (offset - tail_start) as usize;
        tail.get(s..s + size as usize).map(<[u8]>::to_vec)
    } else {
        Some(
            range(
                client,
                url,
                &format!("bytes={offset}-{}", offset + size.max(1) - 1),
            )
            .await?
            .0,
        )
    };
    cd.and_then(|cd| total_uncompressed(&cd))
        .ok_or_else(|| anyhow::anyhow!("{} has a damaged central directory", redact(url)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sums_sizes_from_the_central_directory() {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default();
            w.start_file("a.txt", opts).unwrap();
            w.write_all(&[b'a'; 1000]).unwrap();
            w.start_file("b/c.bin", opts).unwrap();
            w.write_all(&[7u8; 4321]).unwrap();
            w.finish().unwrap();
        }
        let bytes = buf.into_inner();
        let (off, size) = central_directory(&bytes, 0).unwrap();
        let cd = &bytes[off as usize..(off + size) as usize];
        assert_eq!(total_uncompressed(cd), Some(5321));
    }

    /// Serves `body` over HTTP with Range support, as S3 presigned URLs do.
    fn serve(body: Vec<u8>) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/layer.zip", listener.local_addr().unwrap());
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut range = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        range = Some(v.trim().to_string());
                    }
                }
                let len = body.len();
                let (start, end) = match range.as_deref() {
                    Some(r) if r.starts_with('-') => {
                        (len - r[1..].parse::<usize>().unwrap().min(len), len - 1)
                    }
                    Some(r) => {
                        let (a, b) = r.split_once('-').unwrap();
                        (a.parse().unwrap(), b.parse::<usize>().unwrap().min(len - 1))
                    }
                    None => (0, len - 1),
                };
                seen.lock().unwrap().push(format!("{start}-{end}"));
                let mut s = stream;
                let head = format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{end}/{len}\r\nConnection: close\r\n\r\n",
                    end - start + 1
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body[start..=end]);
            }
        });
        (url, log)
    }

    #[test]
    fn reads_the_size_of_a_remote_zip_with_range_requests() {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default();
            // Incompressible data makes the zip larger than the 64 KiB tail read.
            let mut x: u32 = 1;
            for i in 0..40 {
                w.start_file(format!("python/f{i}.bin"), opts).unwrap();
                let data: Vec<u8> = (0..10_000)
                    .map(|_| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        (x >> 16) as u8
                    })
                    .collect();
                w.write_all(&data).unwrap();
            }
            w.finish().unwrap();
        }
        let bytes = buf.into_inner();
        assert!(bytes.len() > 300_000);
        let (url, log) = serve(bytes.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = crate::http::client().unwrap();
        let size = rt.block_on(unzipped_size(&client, &url)).unwrap();
        assert_eq!(size, 400_000);
        let requests = log.lock().unwrap().clone();
        assert!(requests.len() <= 2, "{requests:?}");
        let fetched: usize = requests
            .iter()
            .map(|r| {
                let (a, b) = r.split_once('-').unwrap();
                b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1
            })
            .sum();
        assert!(
            fetched < bytes.len() / 2,
            "read {fetched} of {} bytes",
            bytes.len()
        );
    }
}
