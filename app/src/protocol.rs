//! The wire format of docs/protocol.md: every WebSocket frame, encoded and decoded
//! in this one place so the server and the browser cannot disagree.
//!
//! Frames are binary, byte 0 is the message type and every integer is
//! little-endian. Decoding is strict: a frame with an unknown type, a wrong
//! length or a bad field value is rejected with a [`DecodeError`] (never a
//! panic), because frames come from the network.

use crate::chunk::ChunkId;
use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

/// A canvas version: its epoch, and the seq of the last placement it
/// holds. What `Hello` and `Resync` announce, what a client's copy and an
/// instance's mirror are at, and what `Resume` resumes from: one name on
/// both ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Version {
    pub epoch: u64,
    pub seq: u64,
}

/// The largest frame a client may send. Anything bigger is refused before it
/// is even looked at (close code 1009).
pub const MAX_CLIENT_FRAME_LEN: usize = 1024;

/// Message type bytes (byte 0 of every frame).
pub mod kind {
    pub const PLACE: u8 = 0x01;
    pub const RESUME: u8 = 0x02;
    pub const WATCH: u8 = 0x03;
    pub const UNDO: u8 = 0x04;
    pub const CHAT: u8 = 0x05;
    pub const FACTION_CHAT: u8 = 0x06;
    pub const HELLO: u8 = 0x10;
    pub const TILES: u8 = 0x11;
    pub const PLACE_RESULT: u8 = 0x12;
    pub const PRESENCE: u8 = 0x13;
    pub const RESYNC: u8 = 0x14;
    pub const ERROR: u8 = 0x15;
    pub const FROZEN: u8 = 0x16;
    pub const CHUNK_HELLO: u8 = 0x17;
    pub const VIEW_TILES: u8 = 0x18;
    pub const RESIZE: u8 = 0x19;
    pub const CHARGES: u8 = 0x1A;
    pub const CHAT_LINE: u8 = 0x1B;
    pub const CHAT_REMOVED: u8 = 0x1C;
    pub const CHAT_RESULT: u8 = 0x1D;
    pub const CHAT_LINES: u8 = 0x1E;
    pub const TEMPLATE_ALERT: u8 = 0x1F;
    pub const FACTION_CHAT_LINE: u8 = 0x20;
}

/// Codes carried by the `Error` frame, so a client can tell failures apart
/// without parsing the message text.
pub mod error_code {
    /// The frame's type byte is not a client message type.
    pub const UNKNOWN_TYPE: u16 = 1;
    /// The frame's length does not match its type.
    pub const BAD_LENGTH: u16 = 2;
    /// A text frame: the protocol is binary only.
    pub const TEXT_FRAME: u16 = 3;
    /// The frame is larger than [`super::MAX_CLIENT_FRAME_LEN`].
    pub const TOO_LARGE: u16 = 4;
    /// An empty frame.
    pub const EMPTY: u16 = 5;
    /// A field holds a value its type does not allow.
    pub const BAD_VALUE: u16 = 6;
    /// More `Resume` frames than a connection may send (a client resumes
    /// once per connection, or after a gap).
    pub const TOO_MANY_RESUMES: u16 = 7;
    /// More `Watch` frames than a connection may send per second, or a
    /// `Watch` naming a chunk off the canvas: the frame was ignored.
    pub const WATCH_REFUSED: u16 = 8;
    /// A `Resume` on a connection that watches chunks (it catches up by
    /// its `ChunkHello`s instead).
    pub const NOT_WHOLE_CANVAS: u16 = 9;
}

/// One pixel write: the unit of both `Place` and `Tiles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    pub x: u16,
    pub y: u16,
    pub color: u8,
}

/// Bytes one tile takes inside a `Place` or `Tiles` frame.
pub const TILE_LEN: usize = 5;
/// `Tiles` header: type, `first_seq: u64`, `count: u16`.
pub const TILES_HEADER_LEN: usize = 1 + 8 + 2;
/// The most tiles one `Tiles` frame can carry (its count is a `u16`).
pub const MAX_TILES_PER_FRAME: usize = u16::MAX as usize;

/// The most chunks one `Watch` frame names: a view of a full-HD screen at
/// one screen pixel per canvas pixel touches 40.
pub const MAX_WATCHED: usize = 64;

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    Place(Tile),
    /// Sent after a reconnect: "I have applied everything up to `last_seq`".
    Resume {
        epoch: u64,
        last_seq: u64,
    },
    /// "From now on, send me the tiles of exactly these chunks" (at most
    /// [`MAX_WATCHED`]; empty: none). The connection stops receiving the
    /// whole canvas's `Tiles` for good and gets `ViewTiles` instead.
    Watch(Vec<ChunkId>),
    /// "Undo my last placement": its pixel gets back the color it had, as
    /// a placement of its own, answered by a `PlaceResult` in order with
    /// the `Place`s.
    Undo,
    /// A message for the canvas's chat (its text as typed: the server
    /// checks it, see [`crate::chat::ChatText`]). Answered by a
    /// `ChatResult`, in order with the other `Chat`s.
    Chat {
        text: String,
    },
    /// A message for the channel of the player's faction on this canvas,
    /// checked as a `Chat` and answered by a `ChatResult` in order with
    /// the `Chat`s (`NotAllowed` from a player in no faction).
    FactionChat {
        text: String,
    },
}

/// The answer to one `Chat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChatStatus {
    /// Posted: every page sees it as a `ChatLine`, this one too.
    Sent = 0,
    /// Too many messages from this session or address: retry after
    /// `retry_after_ms`.
    RateLimited = 1,
    /// A moderator muted this player: until `retry_after_ms` from now.
    Muted = 2,
    /// The session or its address is banned: until `retry_after_ms`.
    Banned = 3,
    /// Empty, longer than 200 characters, or holding control characters.
    Invalid = 4,
    /// This deployment's chat is closed, or open to signed-in players
    /// only, or the connection has no session.
    NotAllowed = 5,
    /// The session must solve the challenge first (as for placing).
    ChallengeRequired = 6,
    /// The store did not answer: the message may not have been posted.
    Unavailable = 7,
}

impl ChatStatus {
    pub fn from_byte(byte: u8) -> Option<Self> {
        [
            Self::Sent,
            Self::RateLimited,
            Self::Muted,
            Self::Banned,
            Self::Invalid,
            Self::NotAllowed,
            Self::ChallengeRequired,
            Self::Unavailable,
        ]
        .into_iter()
        .find(|status| *status as u8 == byte)
    }
}

/// A chat message as every page gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// Increasing per canvas: what moderators remove it by.
    pub id: u64,
    /// When it was posted (unix ms).
    pub at_ms: u64,
    /// Its author's handle (16 hex digits): their page is
    /// `/players/<handle>`.
    pub player: String,
    /// The author's display name then, if they had one.
    pub name: Option<String>,
    pub text: String,
}

/// The answer to one `Place` (or `Undo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PlaceStatus {
    Accepted = 0,
    Cooldown = 1,
    Invalid = 2,
    RateLimited = 3,
    NotAllowed = 4,
    /// The store took the placement but could not confirm in time that it
    /// is durable (kept by a replica), or did not answer at all: it may or
    /// may not be on the canvas. The client should look at the pixel.
    Unknown = 5,
    /// The session or its address is banned by a moderator; retry after
    /// `retry_after_ms` (when the ban ends).
    Banned = 6,
    /// The canvas is frozen by its moderators: nobody places until they
    /// unfreeze it.
    Frozen = 7,
    /// The session must solve a proof-of-work challenge
    /// (`/api/challenge`) before this placement: it is asked of every new
    /// session, or its address used up what unverified sessions share.
    ChallengeRequired = 8,
    /// An `Undo` with nothing to undo: no placement of the session within
    /// `UNDO_MS`, someone placed on its pixel since, or it was undone.
    NothingToUndo = 9,
}

impl PlaceStatus {
    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => Self::Accepted,
            1 => Self::Cooldown,
            2 => Self::Invalid,
            3 => Self::RateLimited,
            4 => Self::NotAllowed,
            5 => Self::Unknown,
            6 => Self::Banned,
            7 => Self::Frozen,
            8 => Self::ChallengeRequired,
            9 => Self::NothingToUndo,
            _ => return None,
        })
    }
}

/// The first frame of every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    pub width: u16,
    pub height: u16,
    pub seq: u64,
    pub epoch: u64,
    pub cooldown_ms: u32,
}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    Hello(Hello),
    /// Tiles carrying the consecutive seqs `first_seq ..`.
    Tiles {
        first_seq: u64,
        tiles: Vec<Tile>,
    },
    PlaceResult {
        status: PlaceStatus,
        seq: u64,
        retry_after_ms: u32,
    },
    Presence {
        online: u32,
    },
    Resync {
        seq: u64,
        epoch: u64,
    },
    Error {
        code: u16,
        message: String,
    },
    /// Whether the moderators froze the canvas: sent after `Hello` while it
    /// is frozen, and to every socket whenever that changes.
    Frozen {
        frozen: bool,
    },
    /// A chunk the connection now watches (or watches again after a
    /// `Resync`), and its version: the seq of the last placement in it (0:
    /// none this epoch). Its snapshot at that version or newer, with the
    /// `ViewTiles` that follow, brings a copy up to date.
    ChunkHello {
        chunk: ChunkId,
        version: u64,
    },
    /// Every placement in the watched chunks with a seq in `after+1 ..=
    /// upto`, in seq order. `after` is the `upto` of the connection's
    /// previous `ViewTiles` (or the seq of its `Hello` or `Resync`), so a
    /// client sees a gap as an `after` that is not where it is.
    ViewTiles {
        after: u64,
        upto: u64,
        tiles: Vec<Tile>,
    },
    /// The moderators enlarged the canvas: its size from now on (never
    /// smaller than before).
    Resize {
        width: u16,
        height: u16,
    },
    /// The session's placements in reserve (`CHARGES_MAX` above 1 only):
    /// `available` of `max`, and the next one back in `next_ms` (0 when
    /// the pool is full).
    Charges {
        available: u8,
        max: u8,
        next_ms: u32,
    },
    /// A chat message: posted just now, or one of the recent ones a new
    /// connection is sent after `Hello`, oldest first.
    ChatLine(ChatLine),
    /// Several chat messages at once, oldest first, each as a `ChatLine`
    /// would carry it: what a busy chat sends with each flush, and the
    /// recent ones a new connection is sent (1 to [`MAX_CHAT_LINES`]).
    ChatLines(Vec<ChatLine>),
    /// The moderators removed a chat message: pages take it away.
    ChatRemoved {
        id: u64,
    },
    /// The answer to one `Chat`.
    ChatResult {
        status: ChatStatus,
        retry_after_ms: u32,
    },
    /// A template the server watches (`/api/templates/<id>`) was damaged
    /// past its threshold: `damaged` of its pixels that were right are
    /// wrong now; `right` of `total` are right. Sent to every socket of the
    /// canvas once per episode (again only after the damage fell to half
    /// the threshold); a page shows the ones it follows.
    TemplateAlert {
        id: u64,
        damaged: u32,
        right: u32,
        total: u32,
    },
    /// A message in the channel of `faction` on this canvas, sent to its
    /// members' sockets only; after `Hello`, a member's socket is sent the
    /// channel's newest, oldest first, one frame each.
    FactionChatLine {
        faction: u64,
        line: ChatLine,
    },
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("empty frame")]
    Empty,
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    #[error("message type 0x{kind:02x} must be {expected} bytes, got {got}")]
    BadLength {
        kind: u8,
        expected: usize,
        got: usize,
    },
    #[error("frame of {0} bytes is over the {MAX_CLIENT_FRAME_LEN} byte limit")]
    TooLarge(usize),
    #[error("invalid value: {0}")]
    BadValue(&'static str),
}

impl DecodeError {
    /// The code an `Error` frame carries for this failure.
    pub fn code(&self) -> u16 {
        match self {
            Self::Empty => error_code::EMPTY,
            Self::UnknownType(_) => error_code::UNKNOWN_TYPE,
            Self::BadLength { .. } => error_code::BAD_LENGTH,
            Self::TooLarge(_) => error_code::TOO_LARGE,
            Self::BadValue(_) => error_code::BAD_VALUE,
        }
    }
}

/// A little-endian reader over a frame whose length was checked up front, so
/// the reads themselves cannot run past the end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> u8 {
        let (head, rest) = self.0.split_at(1);
        self.0 = rest;
        head[0]
    }
    fn u16(&mut self) -> u16 {
        let (head, rest) = self.0.split_at(2);
        self.0 = rest;
        u16::from_le_bytes([head[0], head[1]])
    }
    fn u32(&mut self) -> u32 {
        let (head, rest) = self.0.split_at(4);
        self.0 = rest;
        u32::from_le_bytes(head.try_into().expect("split_at(4) gives 4 bytes"))
    }
    fn u64(&mut self) -> u64 {
        let (head, rest) = self.0.split_at(8);
        self.0 = rest;
        u64::from_le_bytes(head.try_into().expect("split_at(8) gives 8 bytes"))
    }
    fn tile(&mut self) -> Tile {
        Tile {
            x: self.u16(),
            y: self.u16(),
            color: self.u8(),
        }
    }
}

fn expect_len(frame: &[u8], expected: usize) -> Result<Reader<'_>, DecodeError> {
    if frame.len() != expected {
        return Err(DecodeError::BadLength {
            kind: frame[0],
            expected,
            got: frame.len(),
        });
    }
    Ok(Reader(&frame[1..]))
}

fn put_tile(buf: &mut BytesMut, tile: &Tile) {
    buf.put_u16_le(tile.x);
    buf.put_u16_le(tile.y);
    buf.put_u8(tile.color);
}

impl ClientMessage {
    pub const PLACE_LEN: usize = 1 + TILE_LEN;
    pub const RESUME_LEN: usize = 1 + 8 + 8;
    /// A `Watch` frame's type and count bytes.
    pub const WATCH_HEADER_LEN: usize = 1 + 1;
    pub const UNDO_LEN: usize = 1;

    pub fn encode(&self) -> Bytes {
        match self {
            Self::Place(tile) => {
                let mut buf = BytesMut::with_capacity(Self::PLACE_LEN);
                buf.put_u8(kind::PLACE);
                put_tile(&mut buf, tile);
                buf.freeze()
            }
            Self::Resume { epoch, last_seq } => {
                let mut buf = BytesMut::with_capacity(Self::RESUME_LEN);
                buf.put_u8(kind::RESUME);
                buf.put_u64_le(*epoch);
                buf.put_u64_le(*last_seq);
                buf.freeze()
            }
            Self::Watch(chunks) => {
                let count = u8::try_from(chunks.len().min(MAX_WATCHED)).expect("at most 64");
                let mut buf =
                    BytesMut::with_capacity(Self::WATCH_HEADER_LEN + usize::from(count) * 4);
                buf.put_u8(kind::WATCH);
                buf.put_u8(count);
                for chunk in &chunks[..usize::from(count)] {
                    buf.put_u16_le(chunk.cx);
                    buf.put_u16_le(chunk.cy);
                }
                buf.freeze()
            }
            Self::Undo => Bytes::from_static(&[kind::UNDO]),
            Self::Chat { text } | Self::FactionChat { text } => {
                let mut buf = BytesMut::with_capacity(1 + text.len());
                buf.put_u8(if matches!(self, Self::Chat { .. }) {
                    kind::CHAT
                } else {
                    kind::FACTION_CHAT
                });
                buf.put_slice(text.as_bytes());
                buf.freeze()
            }
        }
    }

    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        if frame.len() > MAX_CLIENT_FRAME_LEN {
            return Err(DecodeError::TooLarge(frame.len()));
        }
        match frame.first() {
            None => Err(DecodeError::Empty),
            Some(&kind::PLACE) => Ok(Self::Place(expect_len(frame, Self::PLACE_LEN)?.tile())),
            Some(&kind::RESUME) => {
                let mut r = expect_len(frame, Self::RESUME_LEN)?;
                Ok(Self::Resume {
                    epoch: r.u64(),
                    last_seq: r.u64(),
                })
            }
            Some(&kind::WATCH) => {
                let count = usize::from(*frame.get(1).unwrap_or(&0));
                if count > MAX_WATCHED {
                    return Err(DecodeError::BadValue("a Watch names at most 64 chunks"));
                }
                let mut r = expect_len(frame, Self::WATCH_HEADER_LEN + count * 4)?;
                r.u8();
                let chunks = (0..count)
                    .map(|_| ChunkId {
                        cx: r.u16(),
                        cy: r.u16(),
                    })
                    .collect();
                Ok(Self::Watch(chunks))
            }
            Some(&kind::UNDO) => {
                expect_len(frame, Self::UNDO_LEN)?;
                Ok(Self::Undo)
            }
            Some(&kind::CHAT) | Some(&kind::FACTION_CHAT) => {
                let text = std::str::from_utf8(&frame[1..])
                    .map_err(|_| DecodeError::BadValue("a Chat's text is UTF-8"))?
                    .to_owned();
                Ok(if frame[0] == kind::CHAT {
                    Self::Chat { text }
                } else {
                    Self::FactionChat { text }
                })
            }
            Some(&other) => Err(DecodeError::UnknownType(other)),
        }
    }
}

impl ServerMessage {
    pub const HELLO_LEN: usize = 1 + 2 + 2 + 8 + 8 + 4;
    pub const PLACE_RESULT_LEN: usize = 1 + 1 + 8 + 4;
    pub const PRESENCE_LEN: usize = 1 + 4;
    pub const RESYNC_LEN: usize = 1 + 8 + 8;
    pub const FROZEN_LEN: usize = 1 + 1;
    pub const CHUNK_HELLO_LEN: usize = 1 + 2 + 2 + 8;
    pub const RESIZE_LEN: usize = 1 + 2 + 2;
    pub const CHARGES_LEN: usize = 1 + 1 + 1 + 4;
    /// A `ChatLine`'s fixed part: type, id, time, handle, name length.
    pub const CHAT_LINE_HEADER_LEN: usize = 1 + 8 + 8 + 8 + 1;
    pub const CHAT_REMOVED_LEN: usize = 1 + 8;
    pub const CHAT_RESULT_LEN: usize = 1 + 1 + 4;
    pub const TEMPLATE_ALERT_LEN: usize = 1 + 8 + 4 + 4 + 4;

    pub fn encode(&self) -> Bytes {
        match self {
            Self::Hello(hello) => {
                let mut buf = BytesMut::with_capacity(Self::HELLO_LEN);
                buf.put_u8(kind::HELLO);
                buf.put_u16_le(hello.width);
                buf.put_u16_le(hello.height);
                buf.put_u64_le(hello.seq);
                buf.put_u64_le(hello.epoch);
                buf.put_u32_le(hello.cooldown_ms);
                buf.freeze()
            }
            Self::Tiles { first_seq, tiles } => encode_tiles(*first_seq, tiles),
            Self::PlaceResult {
                status,
                seq,
                retry_after_ms,
            } => {
                let mut buf = BytesMut::with_capacity(Self::PLACE_RESULT_LEN);
                buf.put_u8(kind::PLACE_RESULT);
                buf.put_u8(*status as u8);
                buf.put_u64_le(*seq);
                buf.put_u32_le(*retry_after_ms);
                buf.freeze()
            }
            Self::Presence { online } => {
                let mut buf = BytesMut::with_capacity(Self::PRESENCE_LEN);
                buf.put_u8(kind::PRESENCE);
                buf.put_u32_le(*online);
                buf.freeze()
            }
            Self::Resync { seq, epoch } => {
                let mut buf = BytesMut::with_capacity(Self::RESYNC_LEN);
                buf.put_u8(kind::RESYNC);
                buf.put_u64_le(*seq);
                buf.put_u64_le(*epoch);
                buf.freeze()
            }
            Self::Error { code, message } => {
                let mut buf = BytesMut::with_capacity(3 + message.len());
                buf.put_u8(kind::ERROR);
                buf.put_u16_le(*code);
                buf.put_slice(message.as_bytes());
                buf.freeze()
            }
            Self::Frozen { frozen } => Bytes::copy_from_slice(&[kind::FROZEN, u8::from(*frozen)]),
            Self::ChunkHello { chunk, version } => {
                let mut buf = BytesMut::with_capacity(Self::CHUNK_HELLO_LEN);
                buf.put_u8(kind::CHUNK_HELLO);
                buf.put_u16_le(chunk.cx);
                buf.put_u16_le(chunk.cy);
                buf.put_u64_le(*version);
                buf.freeze()
            }
            Self::ViewTiles { after, upto, tiles } => {
                let mut encoded = BytesMut::with_capacity(tiles.len() * TILE_LEN);
                for tile in tiles {
                    put_tile(&mut encoded, tile);
                }
                join_view_tiles(*after, *upto, [&encoded[..]])
            }
            Self::Resize { width, height } => {
                let mut buf = BytesMut::with_capacity(Self::RESIZE_LEN);
                buf.put_u8(kind::RESIZE);
                buf.put_u16_le(*width);
                buf.put_u16_le(*height);
                buf.freeze()
            }
            Self::Charges {
                available,
                max,
                next_ms,
            } => {
                let mut buf = BytesMut::with_capacity(Self::CHARGES_LEN);
                buf.put_u8(kind::CHARGES);
                buf.put_u8(*available);
                buf.put_u8(*max);
                buf.put_u32_le(*next_ms);
                buf.freeze()
            }
            Self::ChatLine(line) => {
                // A name is at most 24 characters; any past 63 (up to 252
                // bytes) would not fit the length byte.
                let name: String = line
                    .name
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(63)
                    .collect();
                let mut buf = BytesMut::with_capacity(
                    Self::CHAT_LINE_HEADER_LEN + name.len() + line.text.len(),
                );
                buf.put_u8(kind::CHAT_LINE);
                buf.put_u64_le(line.id);
                buf.put_u64_le(line.at_ms);
                buf.put_u64(u64::from_str_radix(&line.player, 16).unwrap_or(0));
                buf.put_u8(name.len() as u8);
                buf.put_slice(name.as_bytes());
                buf.put_slice(line.text.as_bytes());
                buf.freeze()
            }
            Self::ChatLines(lines) => {
                let frames: Vec<Bytes> = lines
                    .iter()
                    .map(|line| Self::ChatLine(line.clone()).encode())
                    .collect();
                join_chat_lines(&frames)
            }
            Self::ChatRemoved { id } => {
                let mut buf = BytesMut::with_capacity(Self::CHAT_REMOVED_LEN);
                buf.put_u8(kind::CHAT_REMOVED);
                buf.put_u64_le(*id);
                buf.freeze()
            }
            Self::ChatResult {
                status,
                retry_after_ms,
            } => {
                let mut buf = BytesMut::with_capacity(Self::CHAT_RESULT_LEN);
                buf.put_u8(kind::CHAT_RESULT);
                buf.put_u8(*status as u8);
                buf.put_u32_le(*retry_after_ms);
                buf.freeze()
            }
            Self::FactionChatLine { faction, line } => {
                let inner = Self::ChatLine(line.clone()).encode();
                let mut buf = BytesMut::with_capacity(8 + inner.len());
                buf.put_u8(kind::FACTION_CHAT_LINE);
                buf.put_u64_le(*faction);
                buf.put_slice(&inner[1..]);
                buf.freeze()
            }
            Self::TemplateAlert {
                id,
                damaged,
                right,
                total,
            } => {
                let mut buf = BytesMut::with_capacity(Self::TEMPLATE_ALERT_LEN);
                buf.put_u8(kind::TEMPLATE_ALERT);
                buf.put_u64_le(*id);
                buf.put_u32_le(*damaged);
                buf.put_u32_le(*right);
                buf.put_u32_le(*total);
                buf.freeze()
            }
        }
    }

    /// Decodes a server frame. Server frames have no size cap of their own (a
    /// `Tiles` frame may carry 65,535 tiles); their lengths are checked exactly.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        match frame.first() {
            None => Err(DecodeError::Empty),
            Some(&kind::HELLO) => {
                let mut r = expect_len(frame, Self::HELLO_LEN)?;
                Ok(Self::Hello(Hello {
                    width: r.u16(),
                    height: r.u16(),
                    seq: r.u64(),
                    epoch: r.u64(),
                    cooldown_ms: r.u32(),
                }))
            }
            Some(&kind::TILES) => {
                if frame.len() < TILES_HEADER_LEN {
                    return Err(DecodeError::BadLength {
                        kind: kind::TILES,
                        expected: TILES_HEADER_LEN,
                        got: frame.len(),
                    });
                }
                let mut header = Reader(&frame[1..TILES_HEADER_LEN]);
                let first_seq = header.u64();
                let count = usize::from(header.u16());
                let mut r = expect_len(frame, TILES_HEADER_LEN + count * TILE_LEN)?;
                r.0 = &r.0[TILES_HEADER_LEN - 1..];
                let tiles = (0..count).map(|_| r.tile()).collect();
                Ok(Self::Tiles { first_seq, tiles })
            }
            Some(&kind::PLACE_RESULT) => {
                let mut r = expect_len(frame, Self::PLACE_RESULT_LEN)?;
                let status = PlaceStatus::from_byte(r.u8())
                    .ok_or(DecodeError::BadValue("unknown place status"))?;
                Ok(Self::PlaceResult {
                    status,
                    seq: r.u64(),
                    retry_after_ms: r.u32(),
                })
            }
            Some(&kind::PRESENCE) => Ok(Self::Presence {
                online: expect_len(frame, Self::PRESENCE_LEN)?.u32(),
            }),
            Some(&kind::RESYNC) => {
                let mut r = expect_len(frame, Self::RESYNC_LEN)?;
                Ok(Self::Resync {
                    seq: r.u64(),
                    epoch: r.u64(),
                })
            }
            Some(&kind::ERROR) => {
                if frame.len() < 3 {
                    return Err(DecodeError::BadLength {
                        kind: kind::ERROR,
                        expected: 3,
                        got: frame.len(),
                    });
                }
                let code = u16::from_le_bytes([frame[1], frame[2]]);
                let message = std::str::from_utf8(&frame[3..])
                    .map_err(|_| DecodeError::BadValue("error message is not UTF-8"))?
                    .to_owned();
                Ok(Self::Error { code, message })
            }
            Some(&kind::FROZEN) => match expect_len(frame, Self::FROZEN_LEN)?.u8() {
                0 => Ok(Self::Frozen { frozen: false }),
                1 => Ok(Self::Frozen { frozen: true }),
                _ => Err(DecodeError::BadValue("frozen must be 0 or 1")),
            },
            Some(&kind::CHUNK_HELLO) => {
                let mut r = expect_len(frame, Self::CHUNK_HELLO_LEN)?;
                Ok(Self::ChunkHello {
                    chunk: ChunkId {
                        cx: r.u16(),
                        cy: r.u16(),
                    },
                    version: r.u64(),
                })
            }
            Some(&kind::VIEW_TILES) => {
                if frame.len() < VIEW_TILES_HEADER_LEN {
                    return Err(DecodeError::BadLength {
                        kind: kind::VIEW_TILES,
                        expected: VIEW_TILES_HEADER_LEN,
                        got: frame.len(),
                    });
                }
                let mut r = Reader(&frame[1..]);
                let (after, upto) = (r.u64(), r.u64());
                let count = usize::from(r.u16());
                expect_len(frame, VIEW_TILES_HEADER_LEN + count * TILE_LEN)?;
                if upto < after {
                    return Err(DecodeError::BadValue("ViewTiles ends before it starts"));
                }
                let tiles = (0..count).map(|_| r.tile()).collect();
                Ok(Self::ViewTiles { after, upto, tiles })
            }
            Some(&kind::RESIZE) => {
                let mut r = expect_len(frame, Self::RESIZE_LEN)?;
                let (width, height) = (r.u16(), r.u16());
                if width == 0 || height == 0 {
                    return Err(DecodeError::BadValue("a canvas is at least 1 x 1"));
                }
                Ok(Self::Resize { width, height })
            }
            Some(&kind::CHARGES) => {
                let mut r = expect_len(frame, Self::CHARGES_LEN)?;
                let (available, max, next_ms) = (r.u8(), r.u8(), r.u32());
                if available > max {
                    return Err(DecodeError::BadValue("more charges than the pool holds"));
                }
                Ok(Self::Charges {
                    available,
                    max,
                    next_ms,
                })
            }
            Some(&kind::CHAT_LINE) => {
                let header = Self::CHAT_LINE_HEADER_LEN;
                let name_len = usize::from(*frame.get(header - 1).unwrap_or(&0));
                if frame.len() < header + name_len {
                    return Err(DecodeError::BadLength {
                        kind: kind::CHAT_LINE,
                        expected: header + name_len,
                        got: frame.len(),
                    });
                }
                let mut r = Reader(&frame[1..]);
                let (id, at_ms) = (r.u64(), r.u64());
                let player = format!(
                    "{:016x}",
                    u64::from_be_bytes(frame[17..25].try_into().expect("8 bytes"))
                );
                let utf8 = |bytes: &[u8]| {
                    std::str::from_utf8(bytes)
                        .map(str::to_owned)
                        .map_err(|_| DecodeError::BadValue("a ChatLine's text is UTF-8"))
                };
                let name = utf8(&frame[header..header + name_len])?;
                if name.chars().count() > 63 {
                    return Err(DecodeError::BadValue(
                        "a ChatLine's name is 63 characters at most",
                    ));
                }
                Ok(Self::ChatLine(ChatLine {
                    id,
                    at_ms,
                    player,
                    name: (!name.is_empty()).then_some(name),
                    text: utf8(&frame[header + name_len..])?,
                }))
            }
            Some(&kind::CHAT_LINES) => {
                let count = usize::from(*frame.get(1).unwrap_or(&0));
                if !(1..=MAX_CHAT_LINES).contains(&count) {
                    return Err(DecodeError::BadValue(
                        "a ChatLines frame holds 1 to 64 lines",
                    ));
                }
                let mut rest = &frame[2..];
                let mut lines = Vec::with_capacity(count);
                for _ in 0..count {
                    let short = DecodeError::BadLength {
                        kind: kind::CHAT_LINES,
                        expected: frame.len() - rest.len() + 2,
                        got: frame.len(),
                    };
                    let Some((len, body)) = rest.split_first_chunk::<2>() else {
                        return Err(short);
                    };
                    let len = usize::from(u16::from_le_bytes(*len));
                    if body.len() < len {
                        return Err(short);
                    }
                    let mut line = Vec::with_capacity(1 + len);
                    line.push(kind::CHAT_LINE);
                    line.extend_from_slice(&body[..len]);
                    match Self::decode(&line)? {
                        Self::ChatLine(line) => lines.push(line),
                        _ => unreachable!("a ChatLine frame decodes as one"),
                    }
                    rest = &body[len..];
                }
                if !rest.is_empty() {
                    return Err(DecodeError::BadLength {
                        kind: kind::CHAT_LINES,
                        expected: frame.len() - rest.len(),
                        got: frame.len(),
                    });
                }
                Ok(Self::ChatLines(lines))
            }
            Some(&kind::CHAT_REMOVED) => Ok(Self::ChatRemoved {
                id: expect_len(frame, Self::CHAT_REMOVED_LEN)?.u64(),
            }),
            Some(&kind::CHAT_RESULT) => {
                let mut r = expect_len(frame, Self::CHAT_RESULT_LEN)?;
                let status = ChatStatus::from_byte(r.u8())
                    .ok_or(DecodeError::BadValue("unknown chat status"))?;
                Ok(Self::ChatResult {
                    status,
                    retry_after_ms: r.u32(),
                })
            }
            Some(&kind::FACTION_CHAT_LINE) => {
                let Some((faction, body)) = frame[1..].split_first_chunk::<8>() else {
                    return Err(DecodeError::BadLength {
                        kind: kind::FACTION_CHAT_LINE,
                        expected: 1 + 8 + Self::CHAT_LINE_HEADER_LEN - 1,
                        got: frame.len(),
                    });
                };
                let mut inner = Vec::with_capacity(1 + body.len());
                inner.push(kind::CHAT_LINE);
                inner.extend_from_slice(body);
                match Self::decode(&inner)? {
                    Self::ChatLine(line) => Ok(Self::FactionChatLine {
                        faction: u64::from_le_bytes(*faction),
                        line,
                    }),
                    _ => unreachable!("a ChatLine frame decodes as one"),
                }
            }
            Some(&kind::TEMPLATE_ALERT) => {
                let mut r = expect_len(frame, Self::TEMPLATE_ALERT_LEN)?;
                Ok(Self::TemplateAlert {
                    id: r.u64(),
                    damaged: r.u32(),
                    right: r.u32(),
                    total: r.u32(),
                })
            }
            Some(&other) => Err(DecodeError::UnknownType(other)),
        }
    }
}

/// Encodes one `Tiles` frame straight from a slice, so the server can encode a
/// batch once and share the bytes with every socket.
///
/// # Panics
/// If `tiles` holds more than [`MAX_TILES_PER_FRAME`] tiles; callers split
/// batches with `chunks(MAX_TILES_PER_FRAME)`.
pub fn encode_tiles(first_seq: u64, tiles: &[Tile]) -> Bytes {
    let count = u16::try_from(tiles.len()).expect("a Tiles frame holds at most 65535 tiles");
    let mut buf = BytesMut::with_capacity(TILES_HEADER_LEN + tiles.len() * TILE_LEN);
    buf.put_u8(kind::TILES);
    buf.put_u64_le(first_seq);
    buf.put_u16_le(count);
    for tile in tiles {
        put_tile(&mut buf, tile);
    }
    buf.freeze()
}

/// Encodes one `Tiles` frame from tiles that are already encoded (five bytes
/// each, as inside a `Tiles` frame): how the server joins the payloads of
/// several consecutive frames into one without decoding them.
///
/// # Panics
/// If the parts hold more than [`MAX_TILES_PER_FRAME`] tiles or a part is not
/// a whole number of tiles: both are the caller's bugs, never the network's.
pub fn join_tiles<'a>(first_seq: u64, parts: impl IntoIterator<Item = &'a [u8]> + Clone) -> Bytes {
    let len: usize = parts.clone().into_iter().map(<[u8]>::len).sum();
    assert!(len.is_multiple_of(TILE_LEN), "whole tiles only");
    let count = u16::try_from(len / TILE_LEN).expect("a Tiles frame holds at most 65535 tiles");
    let mut buf = BytesMut::with_capacity(TILES_HEADER_LEN + len);
    buf.put_u8(kind::TILES);
    buf.put_u64_le(first_seq);
    buf.put_u16_le(count);
    for part in parts {
        buf.put_slice(part);
    }
    buf.freeze()
}

/// The most chat messages one `ChatLines` frame carries.
pub const MAX_CHAT_LINES: usize = 64;

/// Joins encoded `ChatLine` frames (1 to [`MAX_CHAT_LINES`]) into one
/// `ChatLines` frame: type, count (u8), then each line as its `ChatLine`
/// would carry it after the type byte, behind its length (u16): the server
/// encodes each message once and joins them once per flush for every socket.
///
/// # Panics
/// With no frame, more than [`MAX_CHAT_LINES`], or one that is not a
/// `ChatLine`.
pub fn join_chat_lines(lines: &[Bytes]) -> Bytes {
    assert!(
        (1..=MAX_CHAT_LINES).contains(&lines.len()),
        "1 to {MAX_CHAT_LINES} lines"
    );
    let len: usize = lines.iter().map(|line| 2 + line.len() - 1).sum();
    let mut buf = BytesMut::with_capacity(2 + len);
    buf.put_u8(kind::CHAT_LINES);
    buf.put_u8(lines.len() as u8);
    for line in lines {
        assert_eq!(line.first(), Some(&kind::CHAT_LINE), "a ChatLine frame");
        let body = &line[1..];
        buf.put_u16_le(u16::try_from(body.len()).expect("a chat line is under 64 KiB"));
        buf.put_slice(body);
    }
    buf.freeze()
}

/// `ViewTiles` header: type, `after: u64`, `upto: u64`, `count: u16`.
pub const VIEW_TILES_HEADER_LEN: usize = 1 + 8 + 8 + 2;

/// Encodes one `ViewTiles` frame from tiles already encoded (five bytes
/// each): the server picks each watched chunk's part of a batch, encoded
/// once for every socket.
///
/// # Panics
/// As [`join_tiles`]: more than 65,535 tiles, or a part that is not whole
/// tiles.
pub fn join_view_tiles<'a>(
    after: u64,
    upto: u64,
    parts: impl IntoIterator<Item = &'a [u8]> + Clone,
) -> Bytes {
    let len: usize = parts.clone().into_iter().map(<[u8]>::len).sum();
    assert!(len.is_multiple_of(TILE_LEN), "whole tiles only");
    let count = u16::try_from(len / TILE_LEN).expect("a ViewTiles frame holds at most 65535 tiles");
    let mut buf = BytesMut::with_capacity(VIEW_TILES_HEADER_LEN + len);
    buf.put_u8(kind::VIEW_TILES);
    buf.put_u64_le(after);
    buf.put_u64_le(upto);
    buf.put_u16_le(count);
    for part in parts {
        buf.put_slice(part);
    }
    buf.freeze()
}

/// The tiles of a list encoded as inside a `Tiles` frame (five bytes each,
/// no header), as the Redis store publishes and records them.
pub fn decode_tile_list(bytes: &[u8]) -> Result<Vec<Tile>, DecodeError> {
    if !bytes.len().is_multiple_of(TILE_LEN) {
        return Err(DecodeError::BadValue("a tile list is five bytes per tile"));
    }
    let mut r = Reader(bytes);
    Ok((0..bytes.len() / TILE_LEN).map(|_| r.tile()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn place_has_the_documented_layout() {
        let frame = ClientMessage::Place(Tile {
            x: 0x0102,
            y: 0x0304,
            color: 7,
        })
        .encode();
        assert_eq!(&frame[..], &[0x01, 0x02, 0x01, 0x04, 0x03, 7]);
    }

    #[test]
    fn tiles_has_the_documented_layout() {
        let frame = encode_tiles(
            258,
            &[Tile {
                x: 1,
                y: 2,
                color: 3,
            }],
        );
        assert_eq!(
            &frame[..],
            &[0x11, 2, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 2, 0, 3]
        );
    }

    #[test]
    fn rejects_each_malformed_client_frame() {
        assert_eq!(ClientMessage::decode(&[]), Err(DecodeError::Empty));
        assert_eq!(
            ClientMessage::decode(&[0x7f]),
            Err(DecodeError::UnknownType(0x7f))
        );
        assert!(matches!(
            ClientMessage::decode(&[0x01, 0, 0, 0]),
            Err(DecodeError::BadLength {
                expected: 6,
                got: 4,
                ..
            })
        ));
        assert!(matches!(
            ClientMessage::decode(&[0x02; 18]),
            Err(DecodeError::BadLength { expected: 17, .. })
        ));
        assert_eq!(
            ClientMessage::decode(&[0x01; 1025]),
            Err(DecodeError::TooLarge(1025))
        );
        // Server messages are not accepted from a client.
        assert_eq!(
            ClientMessage::decode(&[0x10; 22]),
            Err(DecodeError::UnknownType(0x10))
        );
    }

    #[test]
    fn watch_and_view_tiles_have_the_documented_layout() {
        let watch = ClientMessage::Watch(vec![ChunkId { cx: 1, cy: 0x0203 }]).encode();
        assert_eq!(&watch[..], &[0x03, 1, 1, 0, 3, 2]);
        let tiles = ServerMessage::ViewTiles {
            after: 5,
            upto: 7,
            tiles: vec![Tile {
                x: 1,
                y: 2,
                color: 3,
            }],
        }
        .encode();
        assert_eq!(
            &tiles[..],
            &[0x18, 5, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 2, 0, 3]
        );
        // A Watch naming more chunks than allowed, or fewer than it says.
        let mut too_many = vec![0x03, 65];
        too_many.extend([0; 260]);
        assert!(ClientMessage::decode(&too_many).is_err());
        assert!(ClientMessage::decode(&[0x03, 2, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn tiles_count_must_match_the_body() {
        let mut frame = encode_tiles(
            1,
            &[Tile {
                x: 1,
                y: 1,
                color: 1,
            }; 2],
        )
        .to_vec();
        frame.pop();
        assert!(ServerMessage::decode(&frame).is_err());
        frame[9] = 200; // count now claims far more tiles than follow
        assert!(ServerMessage::decode(&frame).is_err());
    }

    fn tile() -> impl Strategy<Value = Tile> {
        (any::<u16>(), any::<u16>(), any::<u8>()).prop_map(|(x, y, color)| Tile { x, y, color })
    }

    fn chunk() -> impl Strategy<Value = ChunkId> {
        (any::<u16>(), any::<u16>()).prop_map(|(cx, cy)| ChunkId { cx, cy })
    }

    fn client_message() -> impl Strategy<Value = ClientMessage> {
        prop_oneof![
            tile().prop_map(ClientMessage::Place),
            (any::<u64>(), any::<u64>())
                .prop_map(|(epoch, last_seq)| ClientMessage::Resume { epoch, last_seq }),
            proptest::collection::vec(chunk(), 0..=MAX_WATCHED).prop_map(ClientMessage::Watch),
            Just(ClientMessage::Undo),
            ".{0,100}".prop_map(|text| ClientMessage::Chat { text }),
            ".{0,100}".prop_map(|text| ClientMessage::FactionChat { text }),
        ]
    }

    fn chat_line() -> impl Strategy<Value = ChatLine> {
        (
            any::<u64>(),
            any::<u64>(),
            "[0-9a-f]{16}",
            proptest::option::of(".{1,24}"),
            ".{0,200}",
        )
            .prop_map(|(id, at_ms, player, name, text)| ChatLine {
                id,
                at_ms,
                player,
                name,
                text,
            })
    }

    fn server_message() -> impl Strategy<Value = ServerMessage> {
        let status = prop_oneof![
            Just(PlaceStatus::Accepted),
            Just(PlaceStatus::Cooldown),
            Just(PlaceStatus::Invalid),
            Just(PlaceStatus::RateLimited),
            Just(PlaceStatus::NotAllowed),
            Just(PlaceStatus::Unknown),
            Just(PlaceStatus::Banned),
            Just(PlaceStatus::Frozen),
            Just(PlaceStatus::ChallengeRequired),
            Just(PlaceStatus::NothingToUndo),
        ];
        prop_oneof![
            (
                any::<u16>(),
                any::<u16>(),
                any::<u64>(),
                any::<u64>(),
                any::<u32>()
            )
                .prop_map(|(width, height, seq, epoch, cooldown_ms)| {
                    ServerMessage::Hello(Hello {
                        width,
                        height,
                        seq,
                        epoch,
                        cooldown_ms,
                    })
                }),
            (any::<u64>(), proptest::collection::vec(tile(), 0..300))
                .prop_map(|(first_seq, tiles)| ServerMessage::Tiles { first_seq, tiles }),
            (status, any::<u64>(), any::<u32>()).prop_map(|(status, seq, retry_after_ms)| {
                ServerMessage::PlaceResult {
                    status,
                    seq,
                    retry_after_ms,
                }
            }),
            any::<u32>().prop_map(|online| ServerMessage::Presence { online }),
            (any::<u64>(), any::<u64>())
                .prop_map(|(seq, epoch)| ServerMessage::Resync { seq, epoch }),
            (any::<u16>(), ".{0,100}")
                .prop_map(|(code, message)| ServerMessage::Error { code, message }),
            any::<bool>().prop_map(|frozen| ServerMessage::Frozen { frozen }),
            (any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
                |(id, damaged, right, total)| ServerMessage::TemplateAlert {
                    id,
                    damaged,
                    right,
                    total,
                }
            ),
            (chunk(), any::<u64>())
                .prop_map(|(chunk, version)| ServerMessage::ChunkHello { chunk, version }),
            (1..=u16::MAX, 1..=u16::MAX)
                .prop_map(|(width, height)| ServerMessage::Resize { width, height }),
            (any::<u8>(), any::<u8>(), any::<u32>()).prop_map(|(a, b, next_ms)| {
                ServerMessage::Charges {
                    available: a.min(b),
                    max: a.max(b),
                    next_ms,
                }
            }),
            (
                any::<u64>(),
                any::<u32>(),
                proptest::collection::vec(tile(), 0..300)
            )
                .prop_map(|(after, more, tiles)| ServerMessage::ViewTiles {
                    after,
                    upto: after.saturating_add(u64::from(more)),
                    tiles
                }),
            chat_line().prop_map(ServerMessage::ChatLine),
            (any::<u64>(), chat_line())
                .prop_map(|(faction, line)| ServerMessage::FactionChatLine { faction, line }),
            proptest::collection::vec(chat_line(), 1..=MAX_CHAT_LINES)
                .prop_map(ServerMessage::ChatLines),
            any::<u64>().prop_map(|id| ServerMessage::ChatRemoved { id }),
            (0..=7u8, any::<u32>()).prop_map(|(status, retry_after_ms)| {
                ServerMessage::ChatResult {
                    status: ChatStatus::from_byte(status).expect("0 to 7"),
                    retry_after_ms,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn client_messages_round_trip(message in client_message()) {
            prop_assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
        }

        #[test]
        fn server_messages_round_trip(message in server_message()) {
            prop_assert_eq!(ServerMessage::decode(&message.encode()), Ok(message));
        }

        /// Arbitrary bytes never panic the decoders, and whatever a decoder
        /// accepts encodes back to exactly the bytes it came from.
        #[test]
        fn arbitrary_bytes_are_decoded_or_rejected(frame in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(message) = ClientMessage::decode(&frame) {
                prop_assert_eq!(&message.encode()[..], &frame[..]);
            }
            if let Ok(message) = ServerMessage::decode(&frame) {
                prop_assert_eq!(&message.encode()[..], &frame[..]);
            }
        }

        /// Joining the payloads of consecutive `Tiles` frames gives the frame
        /// of all their tiles, and a tile list decodes back to its tiles.
        #[test]
        fn joined_frames_equal_one_frame_of_all_tiles(
            first_seq in any::<u32>(),
            parts in proptest::collection::vec(proptest::collection::vec(tile(), 0..20), 0..6),
        ) {
            let first_seq = u64::from(first_seq);
            let frames: Vec<Bytes> = parts
                .iter()
                .scan(first_seq, |seq, tiles| {
                    let frame = encode_tiles(*seq, tiles);
                    *seq += tiles.len() as u64;
                    Some(frame)
                })
                .collect();
            let all: Vec<Tile> = parts.concat();
            let joined = join_tiles(first_seq, frames.iter().map(|f| &f[TILES_HEADER_LEN..]));
            prop_assert_eq!(&joined[..], &encode_tiles(first_seq, &all)[..]);
            prop_assert_eq!(decode_tile_list(&joined[TILES_HEADER_LEN..]), Ok(all));
        }

        /// Frames that start with a valid type byte but have the wrong length
        /// are rejected, whatever the bytes.
        #[test]
        fn wrong_lengths_are_rejected(
            kind in prop_oneof![Just(kind::PLACE), Just(kind::RESUME)],
            body in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut frame = vec![kind];
            frame.extend(body);
            let expected = if kind == kind::PLACE { ClientMessage::PLACE_LEN } else { ClientMessage::RESUME_LEN };
            prop_assert_eq!(ClientMessage::decode(&frame).is_ok(), frame.len() == expected);
        }
    }
}
