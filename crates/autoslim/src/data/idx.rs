//! The IDX format of MNIST and Fashion-MNIST, raw or gzipped.
//!
//! A big-endian header — two zero bytes, a type byte (0x08: unsigned byte), the number of
//! dimensions, then one `u32` per dimension — followed by the data.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use super::DataError;

/// An n-dimensional array of bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// Dimensions, outermost first (`[count, rows, cols]` for images, `[count]` for labels).
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Parses IDX bytes (already decompressed); `path` only names the source in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    let header_word = |i: usize| bytes.get(4 * i..4 * i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let magic = header_word(0).ok_or_else(|| DataError::Truncated {
        path: path.to_path_buf(),
        expected: 4,
        found: bytes.len(),
    })?;
    let ndim = (magic & 0xff) as usize;
    if magic & 0xffff_ff00 != 0x0000_0800 || ndim == 0 {
        return Err(DataError::BadMagic { path: path.to_path_buf(), found: magic });
    }
    let header = 4 + 4 * ndim;
    let dims = (1..=ndim)
        .map(|i| header_word(i).map(|d| d as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| DataError::Truncated { path: path.to_path_buf(), expected: header, found: bytes.len() })?;
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| DataError::Invalid {
        path: path.to_path_buf(),
        message: format!("dimensions {dims:?} overflow"),
    })?;
    let found = bytes.len() - header;
    if found < expected {
        return Err(DataError::Truncated { path: path.to_path_buf(), expected, found });
    }
    Ok(IdxArray { dims, data: bytes[header..header + expected].to_vec() })
}

/// Reads an IDX file; a gzip stream (by its magic bytes, whatever the name) is decompressed.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let raw = std::fs::read(path).map_err(io)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(io)?;
        out
    } else {
        raw
    };
    parse_idx(&bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend(data);
        bytes
    }

    #[test]
    fn parses_and_rejects() {
        let p = Path::new("x.idx");
        let ok = parse_idx(&idx(&[2, 2], &[1, 2, 3, 4]), p).unwrap();
        assert_eq!(ok.dims, vec![2, 2]);
        assert_eq!(ok.data, vec![1, 2, 3, 4]);
        let err = parse_idx(&idx(&[2, 2], &[1, 2, 3]), p).unwrap_err();
        assert_eq!(err.to_string(), "x.idx is truncated: its header promises 4 bytes of data, it holds 3");
        let mut wrong = idx(&[1], &[0]);
        wrong[2] = 0x0d; // float data
        assert!(parse_idx(&wrong, p).unwrap_err().to_string().contains("magic number 0x00000d01"));
        assert!(matches!(parse_idx(&[0, 0], p), Err(DataError::Truncated { .. })));
        assert!(matches!(parse_idx(&[0, 0, 8, 3, 0, 0, 0, 1], p), Err(DataError::Truncated { .. })));
    }

    #[test]
    fn reads_gzipped_and_raw_files() {
        let dir = std::env::temp_dir().join(format!("autoslim-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = idx(&[3], &[7, 8, 9]);
        std::fs::write(dir.join("raw"), &bytes).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &bytes).unwrap();
        std::fs::write(dir.join("a.gz"), gz.finish().unwrap()).unwrap();
        assert_eq!(read_idx(&dir.join("raw")).unwrap().data, vec![7, 8, 9]);
        assert_eq!(read_idx(&dir.join("a.gz")).unwrap().data, vec![7, 8, 9]);
        let err = read_idx(&dir.join("missing")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
