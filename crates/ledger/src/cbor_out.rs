//! Writing CBOR by hand, for encodings built byte by byte because their size must be known
//! before they are written (transaction bodies priced by size, padded to an exact length).

/// Major type 0: unsigned integer.
pub const UINT: u8 = 0;
/// Major type 2: byte string.
pub const BYTES: u8 = 2;
/// Major type 4: array.
pub const ARRAY: u8 = 4;
/// Major type 5: map.
pub const MAP: u8 = 5;
/// Major type 6: tag.
pub const TAG: u8 = 6;

/// Appends a head of `major` type with argument `n`, in the shortest form (see
/// [`crate::tx::cbor_head_len`] for its size).
pub fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Appends a byte string.
pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, BYTES, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends a tag-258 set header for `len` elements.
pub fn set(out: &mut Vec<u8>, len: usize) {
    head(out, TAG, 258);
    head(out, ARRAY, len as u64);
}
