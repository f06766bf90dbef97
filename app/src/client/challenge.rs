//! Solving the proof-of-work challenge when a placement asks for it
//! (`PlaceResult` status 8): fetch a puzzle, solve it in a worker
//! (`/pow-worker.js`, so the page keeps drawing), show the progress, send
//! the answer, then place the tile that was refused. One solve at a time.

use super::{http, with_client};
use crate::{
    challenge::{Puzzle, Solution},
    live::LiveState,
    protocol::Tile,
};
use leptos::prelude::Set;
use serde::Deserialize;
use wasm_bindgen::{prelude::Closure, JsCast, JsValue};
use web_sys::{MessageEvent, Worker};

/// What the worker posts back.
#[derive(Deserialize)]
struct Progress {
    progress: Option<f64>,
    number: Option<u64>,
    ms: Option<f64>,
}

/// A solve in progress: the worker and its message handler, kept alive
/// until it answers.
pub struct Solving {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Drop for Solving {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// Starts solving, then places `tile` again once the session is verified.
pub fn solve_then_place(live: LiveState, tile: Tile) {
    live.notice.set(Some((live.lang.texts().proving)(0.0)));
    leptos::task::spawn_local(async move {
        let solving = match http::puzzle().await {
            Ok(puzzle) => start(puzzle, live, tile),
            Err(error) => Err(format!("could not get a challenge: {error}")),
        };
        with_client(|client| match solving {
            Ok(solving) => client.placer.solving = Some(solving),
            Err(reason) => client.placer.failed(&reason, client.live),
        });
    });
}

fn start(puzzle: Puzzle, live: LiveState, tile: Tile) -> Result<Solving, String> {
    let worker =
        Worker::new("/pow-worker.js").map_err(|_| "this browser cannot run workers".to_owned())?;
    let text = serde_json::to_string(&puzzle).map_err(|e| e.to_string())?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(message) = event
            .data()
            .as_string()
            .and_then(|text| serde_json::from_str::<Progress>(&text).ok())
        else {
            return;
        };
        if let Some(progress) = message.progress {
            live.notice
                .set(Some((live.lang.texts().proving)(progress * 100.0)));
            return;
        }
        let solved = message.number.map(|number| Solution {
            algorithm: puzzle.algorithm.clone(),
            challenge: puzzle.challenge.clone(),
            salt: puzzle.salt.clone(),
            number,
            signature: puzzle.signature.clone(),
        });
        let took_ms = message.ms.unwrap_or(0.0);
        leptos::task::spawn_local(async move {
            let answered = match solved {
                Some(solution) => http::answer(&solution).await.map_err(|e| e.to_string()),
                None => Err("the challenge had no answer".to_owned()),
            };
            with_client(|client| match answered {
                Ok(()) => client.challenge_solved(tile, took_ms),
                Err(reason) => client.placer.failed(&reason, client.live),
            });
        });
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker
        .post_message(&JsValue::from_str(&text))
        .map_err(|_| "the worker did not start".to_owned())?;
    Ok(Solving {
        worker,
        _on_message: on_message,
    })
}
