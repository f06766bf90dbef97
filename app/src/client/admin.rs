//! The browser side of the moderators' page (`/admin`): its calls to
//! `/api/admin/…`, which carry the token the moderator typed (kept in the
//! tab's memory only, never stored), and the canvas pixel under the pointer
//! on its image of the canvas.

use super::http::HttpError;
use crate::api::Refusal;
use crate::geometry::CanvasSize;
use gloo_net::http::{Request, RequestBuilder};
use serde::{de::DeserializeOwned, Serialize};
use web_sys::Element;

/// Who acts and with what token.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub token: String,
    /// Recorded in the audit log (`X-Moderator`); may be empty.
    pub name: String,
}

impl Credentials {
    fn sign(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header("Authorization", &format!("Bearer {}", self.token));
        if self.name.is_empty() {
            request
        } else {
            request.header("X-Moderator", &self.name)
        }
    }
}

/// `GET <url>` (a `/api/admin/…` route), answered as JSON.
pub async fn get<T: DeserializeOwned>(
    credentials: &Credentials,
    url: &str,
) -> Result<T, HttpError> {
    let request = credentials.sign(Request::get(url));
    answer(request.send().await?).await
}

/// `POST <url>` (a `/api/admin/…` route) with a JSON body, answered as
/// JSON.
pub async fn post<B: Serialize, T: DeserializeOwned>(
    credentials: &Credentials,
    url: &str,
    body: &B,
) -> Result<T, HttpError> {
    let request = credentials.sign(Request::post(url)).json(body)?;
    answer(request.send().await?).await
}

async fn answer<T: DeserializeOwned>(response: gloo_net::http::Response) -> Result<T, HttpError> {
    if response.ok() {
        return response
            .json()
            .await
            .map_err(|_| HttpError::Malformed("the answer the contract describes"));
    }
    Err(HttpError::Refused(match response.json::<Refusal>().await {
        Ok(refusal) => refusal.error,
        Err(_) => format!("HTTP {}", response.status()),
    }))
}

/// The canvas pixel at a pointer position over `image` (the whole canvas
/// scaled to the element), clamped to the canvas.
pub fn pixel_at(image: &Element, size: CanvasSize, client_x: i32, client_y: i32) -> (u16, u16) {
    let rect = image.get_bounding_client_rect();
    let axis = |client: i32, start: f64, extent: f64, pixels: u16| {
        let fraction = (f64::from(client) - start) / extent.max(1.0);
        (fraction * f64::from(pixels))
            .floor()
            .clamp(0.0, f64::from(pixels) - 1.0) as u16
    };
    (
        axis(client_x, rect.left(), rect.width(), size.width),
        axis(client_y, rect.top(), rect.height(), size.height),
    )
}
