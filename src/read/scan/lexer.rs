//! The lexical half of the read parser: strings (borrowed unless escaped,
//! scanned eight bytes at a time), escapes, numbers, and skipping values
//! the record does not use without recursion. Split from `scan.rs` to keep
//! each file readable; it only adds methods to the same `Scanner`. Like
//! it, it never panics and never puts record text into an error.

use std::borrow::Cow;

use super::{ScanError, Scanner};

impl<'a> Scanner<'a> {
    /// Skips a string at `"` whose value is not used: its escapes are
    /// checked for form only, as serde_json did (a lone surrogate passes).
    pub(super) fn skip_string(&mut self) -> Result<(), ScanError> {
        self.pos += 1;
        loop {
            self.pos = find_special(self.bytes(), self.pos);
            match self.peek() {
                None => return Err(self.syntax("unexpected end of the record in a string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    if self.peek() == Some(b'u') {
                        self.pos += 1;
                        self.hex4()?;
                    } else {
                        self.escape()?;
                    }
                }
                Some(_) => return Err(self.syntax("control character in a string")),
            }
        }
    }

    /// A skipped member's key and the `:` after it.
    pub(super) fn skip_key(&mut self) -> Result<(), ScanError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.eof_or("expected a string key"));
        }
        self.skip_string()?;
        self.eat(b':', "expected `:`")
    }

    /// A JSON string at `"`: borrowed when it has no escape.
    pub(super) fn string(&mut self) -> Result<Cow<'a, str>, ScanError> {
        self.pos += 1;
        let start = self.pos;
        self.pos = find_special(self.bytes(), start);
        match self.peek() {
            None => Err(self.syntax("unexpected end of the record in a string")),
            Some(b'"') => {
                self.pos += 1;
                Ok(Cow::Borrowed(&self.text[start..self.pos - 1]))
            }
            Some(b'\\') => self.escaped_string(start).map(Cow::Owned),
            Some(_) => Err(self.syntax("control character in a string")),
        }
    }

    /// The rest of a string with escapes, from its start; `pos` is at the first `\`.
    pub(super) fn escaped_string(&mut self, start: usize) -> Result<String, ScanError> {
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            self.pos = find_special(self.bytes(), run);
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                None => return Err(self.syntax("unexpected end of the record in a string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.syntax("control character in a string")),
            }
        }
    }

    /// One escape after its `\`.
    pub(super) fn escape(&mut self) -> Result<char, ScanError> {
        let Some(b) = self.peek() else {
            return Err(self.syntax("unexpected end of the record in a string"));
        };
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(),
            _ => {
                self.pos -= 1;
                return Err(self.syntax("invalid escape"));
            }
        })
    }

    pub(super) fn hex4(&mut self) -> Result<u16, ScanError> {
        let Some(digits) = self.bytes().get(self.pos..self.pos + 4) else {
            self.pos = self.text.len();
            return Err(self.syntax("unexpected end of the record in a string"));
        };
        let mut value = 0u16;
        for &d in digits {
            let Some(v) = (d as char).to_digit(16) else {
                return Err(self.syntax("invalid \\u escape"));
            };
            value = value * 16 + v as u16;
        }
        self.pos += 4;
        Ok(value)
    }

    /// `\uXXXX`, with a surrogate pair joined; a lone surrogate is not JSON text.
    pub(super) fn unicode_escape(&mut self) -> Result<char, ScanError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes()[self.pos..].starts_with(b"\\u") {
                    return Err(self.syntax("lone leading surrogate in a \\u escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.syntax("invalid surrogate pair in a \\u escape"));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.syntax("lone trailing surrogate in a \\u escape")),
            _ => u32::from(first),
        };
        char::from_u32(code).ok_or_else(|| self.syntax("invalid \\u escape"))
    }

    /// A JSON number's text, checked against the grammar.
    pub(super) fn number(&mut self) -> Result<&'a str, ScanError> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            // There can be only one leading zero.
            Some(b'0') if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                self.pos = i + 1;
                return Err(self.syntax("invalid number"));
            }
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => {
                self.pos = i;
                return Err(self.eof_or("invalid number"));
            }
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                self.pos = i;
                return Err(self.eof_or("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                self.pos = i;
                return Err(self.eof_or("invalid number"));
            }
        }
        self.pos = i;
        Ok(&self.text[start..i])
    }

    /// Skips any JSON value without recursion; nesting is tracked in a bit
    /// stack (1 = object), so a record of 64 KiB of `[` cannot overflow.
    pub(super) fn skip_value(&mut self) -> Result<(), ScanError> {
        let mut stack = BitStack::default();
        loop {
            self.ws();
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        stack.push(true);
                        self.skip_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        stack.push(false);
                        continue;
                    }
                }
                Some(b'"') => self.skip_string()?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                Some(b't') => self.literal("true")?,
                Some(b'f') => self.literal("false")?,
                Some(b'n') => self.literal("null")?,
                _ => return Err(self.eof_or("expected a JSON value")),
            }
            // A value is done: close containers until one has a next member.
            loop {
                let Some(in_object) = stack.top() else {
                    return Ok(());
                };
                if self.next_member(if in_object { b'}' } else { b']' })? {
                    if in_object {
                        self.skip_key()?;
                    }
                    break;
                }
                stack.pop();
            }
        }
    }
}

/// The index of the first byte at or after `from` that ends a run of plain
/// string text (`"`, `\\` or a control character), or `bytes.len()`. Eight
/// bytes at a time: of the bytes a word flags, the lowest is always a real
/// match (the borrows that cause false flags only run upwards).
pub(super) fn find_special(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let flags = zero_byte(w ^ (ONES * u64::from(b'"')))
            | zero_byte(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// A number of at most 15 digits and 22 decimals without an exponent (the
/// confidences and coordinates cameras send), converted exactly: both the
/// digits and the power of ten are exact doubles, so one division rounds
/// correctly (Clinger's fast path), as `str::parse` does. `None`: use that.
pub(super) fn exact_f64(number: &str) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];
    let (negative, digits) = match number.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    let (mut mantissa, mut count, mut decimals, mut point) = (0u64, 0usize, 0usize, false);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                decimals += usize::from(point);
                if count > 15 {
                    return None;
                }
            }
            b'.' => point = true,
            _ => return None,
        }
    }
    let value = mantissa as f64 / *POW10.get(decimals)?;
    Some(if negative { -value } else { value })
}

/// A stack of bits, on the stack up to 128 deep and on the heap beyond
/// (only for records nested that deep, which are hostile or broken).
#[derive(Default)]
pub(super) struct BitStack {
    bits: u128,
    len: usize,
    deeper: Vec<bool>,
}

impl BitStack {
    fn push(&mut self, bit: bool) {
        if self.len < 128 {
            self.bits = (self.bits & !(1 << self.len)) | (u128::from(bit) << self.len);
        } else {
            self.deeper.push(bit);
        }
        self.len += 1;
    }

    fn top(&self) -> Option<bool> {
        match self.len {
            0 => None,
            n if n <= 128 => Some(self.bits >> (n - 1) & 1 == 1),
            _ => self.deeper.last().copied(),
        }
    }

    fn pop(&mut self) {
        if self.len > 128 {
            self.deeper.pop();
        }
        self.len -= 1;
    }
}
