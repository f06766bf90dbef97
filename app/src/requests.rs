//! The HTTP API's inputs, parsed in one place: the query strings of
//! `GET /api/pixel` and `GET /api/placements`, and `POST /api/name`'s body. Every byte comes from the network,
//! so each parser takes any input and answers a value or an error that says
//! what was wrong (the server sends it back as a 400); the fuzz targets in
//! fuzz/ hold them to that.

use crate::name::{DisplayName, NameError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The pixel `GET /api/pixel?x=X&y=Y` asks about, on the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelQuery {
    pub x: u16,
    pub y: u16,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PixelQueryError {
    #[error("malformed query string")]
    Malformed,
    #[error("{axis} must be an integer from 0 to {max}")]
    OffCanvas { axis: &'static str, max: u16 },
}

#[derive(Deserialize)]
struct RawPixelQuery {
    x: Option<String>,
    y: Option<String>,
}

impl PixelQuery {
    /// Parses the query string (without `?`) of a canvas `width` × `height`.
    pub fn parse(query: &str, width: u16, height: u16) -> Result<Self, PixelQueryError> {
        let raw: RawPixelQuery =
            serde_urlencoded::from_str(query).map_err(|_| PixelQueryError::Malformed)?;
        let axis = |value: Option<String>, axis: &'static str, extent: u16| {
            value
                .and_then(|v| v.parse::<u16>().ok())
                .filter(|v| *v < extent)
                .ok_or(PixelQueryError::OffCanvas {
                    axis,
                    max: extent.saturating_sub(1),
                })
        };
        Ok(Self {
            x: axis(raw.x, "x", width)?,
            y: axis(raw.y, "y", height)?,
        })
    }
}

/// The placements `GET /api/placements?epoch=E&after=S` asks for: those
/// after seq `after` of epoch `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacementsQuery {
    pub epoch: u64,
    pub after: u64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlacementsQueryError {
    #[error("malformed query string")]
    Malformed,
    #[error("{0} must be a decimal integer (a u64)")]
    NotANumber(&'static str),
}

#[derive(Deserialize)]
struct RawPlacementsQuery {
    epoch: Option<String>,
    after: Option<String>,
}

impl PlacementsQuery {
    /// Parses the query string (without `?`).
    pub fn parse(query: &str) -> Result<Self, PlacementsQueryError> {
        let raw: RawPlacementsQuery =
            serde_urlencoded::from_str(query).map_err(|_| PlacementsQueryError::Malformed)?;
        let number = |value: Option<String>, name: &'static str| {
            value
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(PlacementsQueryError::NotANumber(name))
        };
        Ok(Self {
            epoch: number(raw.epoch, "epoch")?,
            after: number(raw.after, "after")?,
        })
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameRequestError {
    #[error(r#"expected {{"name": "…"}}"#)]
    Malformed,
    #[error(transparent)]
    Name(#[from] NameError),
}

/// Parses `POST /api/name`'s JSON body, `{"name": "…"}`, into a valid name.
pub fn parse_name_request(body: &[u8]) -> Result<DisplayName, NameRequestError> {
    let request: crate::api::Name =
        serde_json::from_slice(body).map_err(|_| NameRequestError::Malformed)?;
    Ok(DisplayName::parse(&request.name)?)
}

/// `POST /api/report`'s body: the area a player reports and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub x: u16,
    pub y: u16,
    #[serde(default = "one")]
    pub width: u16,
    #[serde(default = "one")]
    pub height: u16,
    #[serde(default)]
    pub reason: String,
}

fn one() -> u16 {
    1
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReportRequestError {
    #[error(r#"expected {{"x":…,"y":…,"width":…,"height":…,"reason":"…"}}"#)]
    Malformed,
    #[error("the area must be 1 to {0} pixels a side, within the canvas")]
    Area(u16),
    #[error("the reason is at most {0} characters, without control characters")]
    Reason(usize),
}

impl ReportRequest {
    /// The largest side of a reported area.
    pub const MAX_SIDE: u16 = 100;
    pub const MAX_REASON: usize = 200;

    /// Parses and checks a report against a canvas of `width` × `height`.
    pub fn parse(body: &[u8], width: u16, height: u16) -> Result<Self, ReportRequestError> {
        let mut report: Self =
            serde_json::from_slice(body).map_err(|_| ReportRequestError::Malformed)?;
        let fits = |start: u16, extent: u16, limit: u16| {
            (1..=Self::MAX_SIDE).contains(&extent)
                && u32::from(start) + u32::from(extent) <= u32::from(limit)
        };
        if !fits(report.x, report.width, width) || !fits(report.y, report.height, height) {
            return Err(ReportRequestError::Area(Self::MAX_SIDE));
        }
        report.reason = report.reason.trim().to_owned();
        if report.reason.chars().count() > Self::MAX_REASON
            || report.reason.chars().any(char::is_control)
        {
            return Err(ReportRequestError::Reason(Self::MAX_REASON));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_an_area_inside_the_canvas() {
        let parse = |body: &str| ReportRequest::parse(body.as_bytes(), 64, 32);
        assert_eq!(
            parse(r#"{"x":3,"y":4,"reason":" rude words "}"#),
            Ok(ReportRequest {
                x: 3,
                y: 4,
                width: 1,
                height: 1,
                reason: "rude words".into()
            })
        );
        assert_eq!(
            parse(r#"{"x":60,"y":0,"width":5}"#),
            Err(ReportRequestError::Area(100))
        );
        assert_eq!(
            parse(r#"{"x":0,"y":0,"width":0}"#),
            Err(ReportRequestError::Area(100))
        );
        assert_eq!(
            parse(r#"{"x":0,"y":0,"reason":"a\u0000b"}"#),
            Err(ReportRequestError::Reason(200))
        );
        assert_eq!(
            parse(r#"{"x":0,"y":0,"evil":1}"#),
            Err(ReportRequestError::Malformed)
        );
    }

    #[test]
    fn placements_queries_need_both_numbers() {
        assert_eq!(
            PlacementsQuery::parse("epoch=18446744073709551615&after=7"),
            Ok(PlacementsQuery {
                epoch: u64::MAX,
                after: 7
            })
        );
        assert_eq!(
            PlacementsQuery::parse("after=7"),
            Err(PlacementsQueryError::NotANumber("epoch"))
        );
        assert_eq!(
            PlacementsQuery::parse("epoch=1&after=-1"),
            Err(PlacementsQueryError::NotANumber("after"))
        );
        assert_eq!(
            PlacementsQuery::parse("epoch=1&after=1&after=2"),
            Err(PlacementsQueryError::Malformed)
        );
    }

    #[test]
    fn pixel_queries_name_a_pixel_on_the_canvas_or_say_why_not() {
        assert_eq!(
            PixelQuery::parse("x=3&y=4", 10, 5),
            Ok(PixelQuery { x: 3, y: 4 })
        );
        assert_eq!(
            PixelQuery::parse("y=4&x=9&other=1", 10, 5),
            Ok(PixelQuery { x: 9, y: 4 })
        );
        let off = |axis, max| Err(PixelQueryError::OffCanvas { axis, max });
        assert_eq!(PixelQuery::parse("x=10&y=0", 10, 5), off("x", 9));
        assert_eq!(PixelQuery::parse("x=1&y=5", 10, 5), off("y", 4));
        assert_eq!(PixelQuery::parse("x=-1&y=0", 10, 5), off("x", 9));
        assert_eq!(PixelQuery::parse("y=0", 10, 5), off("x", 9));
        assert_eq!(PixelQuery::parse("", 10, 5), off("x", 9));
        assert_eq!(
            PixelQuery::parse("x=1&x=2&y=0", 10, 5),
            Err(PixelQueryError::Malformed)
        );
        assert_eq!(
            PixelQueryError::OffCanvas { axis: "x", max: 9 }.to_string(),
            "x must be an integer from 0 to 9"
        );
    }

    #[test]
    fn name_bodies_are_json_with_a_valid_name() {
        assert_eq!(
            parse_name_request(br#"{"name":" Ada "}"#).unwrap().as_str(),
            "Ada"
        );
        assert_eq!(
            parse_name_request(b"name=Ada"),
            Err(NameRequestError::Malformed)
        );
        assert_eq!(
            parse_name_request(br#"{"name":"a"}"#),
            Err(NameRequestError::Name(NameError::Length))
        );
        assert_eq!(
            NameRequestError::Malformed.to_string(),
            r#"expected {"name": "…"}"#
        );
    }
}
