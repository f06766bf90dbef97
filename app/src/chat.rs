//! Chat: what a message may say, and the places it points to. The one
//! definition the server accepts messages by and the page asks for them by;
//! the page turns the coordinates in a message into links that move the
//! view ([`segments`]).

use thiserror::Error;

/// 1 to 200 characters, trimmed, without control characters; runs of
/// whitespace become one space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatText(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ChatTextError {
    #[error("a message has 1 to 200 characters")]
    Length,
    #[error("a message may not hold control characters")]
    Control,
}

impl ChatText {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, ChatTextError> {
        // Newlines and tabs are whitespace like any; other controls (and
        // the bidirectional overrides that make text read backwards) are
        // refused.
        let refused = |c: char| {
            (c.is_control() && !c.is_whitespace())
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        };
        if raw.chars().any(refused) {
            return Err(ChatTextError::Control);
        }
        let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        let chars = text.chars().count();
        if !(1..=Self::MAX_CHARS).contains(&chars) {
            return Err(ChatTextError::Length);
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A piece of a message as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    /// A place on the canvas: `(x, y)` in the text, or a shared link's
    /// `x=…&y=…`. The page shows it as a link that centres the view there.
    Place {
        text: String,
        x: u16,
        y: u16,
    },
}

/// The message cut into text and places, in order.
pub fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((start, end, x, y)) = next_place(rest) {
        if start > 0 {
            out.push(Segment::Text(rest[..start].to_owned()));
        }
        out.push(Segment::Place {
            text: rest[start..end].to_owned(),
            x,
            y,
        });
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest.to_owned()));
    }
    out
}

/// The first place in `text`: its byte range and coordinates.
fn next_place(text: &str) -> Option<(usize, usize, u16, u16)> {
    let pair = find_pair(text);
    let link = find_link(text);
    match (pair, link) {
        (Some(p), Some(l)) => Some(if l.0 < p.0 { l } else { p }),
        (p, l) => p.or(l),
    }
}

/// `(x, y)`, `(x,y)`: two numbers in parentheses.
fn find_pair(text: &str) -> Option<(usize, usize, u16, u16)> {
    let mut from = 0;
    while let Some(open) = text[from..].find('(').map(|i| from + i) {
        if let Some(close) = text[open..].find(')').map(|i| open + i) {
            let inside = &text[open + 1..close];
            if let Some((x, y)) = inside.split_once(',') {
                if let (Ok(x), Ok(y)) = (x.trim().parse(), y.trim().parse()) {
                    return Some((open, close + 1, x, y));
                }
            }
        }
        from = open + 1;
    }
    None
}

/// A share link: a word with `x=<n>` and `y=<n>` among its query's pairs
/// (`https://canvas.example/?x=10&y=20&zoom=8`).
fn find_link(text: &str) -> Option<(usize, usize, u16, u16)> {
    let mut at = 0;
    for word in text.split(' ') {
        let start = at;
        at += word.len() + 1;
        let Some((_, query)) = word.split_once('?') else {
            continue;
        };
        let value = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
        };
        let scheme =
            word.starts_with("https://") || word.starts_with("http://") || word.starts_with('/');
        if let (true, Some(x), Some(y)) = (scheme, value("x"), value("y")) {
            return Some((start, start + word.len(), x, y));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(
            ChatText::parse("  hello\n  world ").unwrap().as_str(),
            "hello world"
        );
        assert_eq!(ChatText::parse("   "), Err(ChatTextError::Length));
        assert_eq!(
            ChatText::parse(&"é".repeat(201)),
            Err(ChatTextError::Length)
        );
        assert!(ChatText::parse(&"é".repeat(200)).is_ok());
        for bad in ["bell\u{7}", "nul\0", "rtl\u{202E}txt", "\u{2066}iso"] {
            assert_eq!(ChatText::parse(bad), Err(ChatTextError::Control), "{bad:?}");
        }
    }

    #[test]
    fn coordinates_and_share_links_become_places() {
        let place = |text: &str, x, y| Segment::Place {
            text: text.to_owned(),
            x,
            y,
        };
        assert_eq!(
            segments("help at (12, 34) please"),
            [
                Segment::Text("help at ".into()),
                place("(12, 34)", 12, 34),
                Segment::Text(" please".into()),
            ]
        );
        assert_eq!(
            segments("see https://c.example/?x=5&y=6&zoom=8 and (1,2)"),
            [
                Segment::Text("see ".into()),
                place("https://c.example/?x=5&y=6&zoom=8", 5, 6),
                Segment::Text(" and ".into()),
                place("(1,2)", 1, 2),
            ]
        );
        // Not places: words, a number past 65535, a link without y.
        for plain in ["(a, b)", "(70000, 1)", "https://c.example/?x=5", "f(x)"] {
            assert_eq!(segments(plain), [Segment::Text(plain.into())], "{plain}");
        }
    }
}
