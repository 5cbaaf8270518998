//! Quoted-printable in segments: each segment is encoded on its own and ends with a soft line
//! break, so a message can be assembled from parts encoded at different times (the text
//! once, the recipient's values per message) and still decode to their concatenation.

/// Encodes `text` (with `\n` line ends) as quoted-printable with CRLF line ends, ending at the
/// start of a line so the next segment can follow.
pub fn encode_segment(text: &str, out: &mut Vec<u8>) {
    if text.is_empty() {
        return;
    }
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let encoded = quoted_printable::encode_to_str(crlf.as_bytes());
    out.extend_from_slice(encoded.as_bytes());
    if !encoded.ends_with("\r\n") {
        out.extend_from_slice(b"=\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_decode_to_their_concatenation() {
        let parts = ["第一段 with = sign and a long line ".repeat(5), "x@example.com".to_string(), "\nend 结束\n".to_string()];
        let mut out = Vec::new();
        for p in &parts {
            encode_segment(p, &mut out);
        }
        assert!(out.split(|b| *b == b'\n').all(|line| line.len() <= 77), "lines within 76 + CR");
        let decoded = quoted_printable::decode(&out, quoted_printable::ParseMode::Strict).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), parts.concat().replace('\n', "\r\n"));
    }
}
