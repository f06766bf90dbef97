//! The chat, across two instances on one real Redis: a message reaches the
//! other instance's pages and the pages opened later; a muted player's
//! messages reach nobody; the rate limit refuses with the time to wait; a
//! removed message leaves every open page; what is not a message is
//! refused. Moderators' actions are audited.

use crate::{
    admin::TOKEN,
    helpers::{spawn_app, wait_ready, TestApp, WsClient},
    redis_server::RedisServer,
};
use app::protocol::{ChatLine, ChatStatus, ClientMessage, ServerMessage};
use serde_json::json;
use std::time::Duration;

/// Two instances with the admin token on one Redis.
async fn two(extra: &[(&str, &str)]) -> (RedisServer, TestApp, TestApp) {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let mut vars = vec![("REDIS_URL", url.as_str()), ("ADMIN_TOKEN", TOKEN)];
    vars.extend_from_slice(extra);
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    wait_ready(&a).await;
    wait_ready(&b).await;
    (redis, a, b)
}

impl WsClient {
    /// Sends a chat message and waits for its answer.
    async fn chat(&mut self, text: &str) -> (ChatStatus, u32) {
        self.say(ClientMessage::Chat {
            text: text.to_owned(),
        })
        .await
    }

    /// Sends a message to the player's faction's channel and waits for its
    /// answer.
    pub(crate) async fn faction_chat(&mut self, text: &str) -> (ChatStatus, u32) {
        self.say(ClientMessage::FactionChat {
            text: text.to_owned(),
        })
        .await
    }

    /// Sends `message` (`Chat` or `FactionChat`) and waits for its answer.
    async fn say(&mut self, message: ClientMessage) -> (ChatStatus, u32) {
        self.send(message).await;
        loop {
            if let ServerMessage::ChatResult {
                status,
                retry_after_ms,
            } = self.recv().await
            {
                return (status, retry_after_ms);
            }
        }
    }

    /// The messages of the next chat frame this socket is sent (a
    /// `ChatLine`, or several joined in a `ChatLines`).
    async fn chat_frame(&mut self) -> Vec<ChatLine> {
        loop {
            match self.recv().await {
                ServerMessage::ChatLine(line) => return vec![line],
                ServerMessage::ChatLines(lines) => return lines,
                _ => {}
            }
        }
    }

    /// The next chat message this socket is sent, alone in its frame (each
    /// test's messages are posted one at a time).
    async fn chat_line(&mut self) -> ChatLine {
        let mut lines = self.chat_frame().await;
        assert_eq!(lines.len(), 1, "one message: {lines:?}");
        lines.remove(0)
    }

    /// The chat messages among the frames of the next `within`.
    async fn chat_lines_within(&mut self, within: Duration) -> Vec<ChatLine> {
        let mut lines = Vec::new();
        let _ = tokio::time::timeout(within, async {
            loop {
                lines.extend(self.chat_frame().await);
            }
        })
        .await;
        lines
    }
}

#[tokio::test]
async fn a_message_reaches_the_other_instances_pages_and_later_ones() {
    let (_redis, a, b) = two(&[]).await;
    let mut ada = a.ws().await;
    let cookie = ada.new_session.clone().expect("a session");
    a.http
        .post(a.url("/api/name"))
        .header("cookie", &cookie)
        .json(&json!({ "name": "Ada" }))
        .send()
        .await
        .unwrap();
    let mut reader = b.ws().await;

    assert_eq!(ada.chat("  meet at   (12, 34)\n").await.0, ChatStatus::Sent);
    let line = reader.chat_line().await;
    assert_eq!(line.text, "meet at (12, 34)");
    assert_eq!(line.name.as_deref(), Some("Ada"));
    assert_eq!(line.player.len(), 16);
    assert!(line.id > 0);
    // The author's own page gets it too, from the feed.
    assert_eq!(ada.chat_line().await, line);

    // A page opened later on either instance is sent it after Hello.
    let later = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let mut fresh = b.ws().await;
            let lines = fresh.chat_lines_within(Duration::from_millis(300)).await;
            if lines.contains(&line) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(later.is_ok(), "a new page shows the recent message");
}

#[tokio::test]
async fn a_muted_players_messages_reach_nobody_until_unmuted() {
    let (_redis, a, b) = two(&[]).await;
    let mut loud = a.ws().await;
    let mut reader = b.ws().await;
    assert_eq!(loud.chat("first").await.0, ChatStatus::Sent);
    let player = reader.chat_line().await.player;

    let muted = b
        .admin(
            "chat/mute",
            Some(json!({ "player": player, "minutes": 10 })),
        )
        .await;
    assert_eq!(muted.status(), 200);
    let (status, retry_after_ms) = loud.chat("second").await;
    assert_eq!(status, ChatStatus::Muted);
    assert!(retry_after_ms > 590_000, "{retry_after_ms}");
    // Nothing reaches the other page: the next line it sees is its own.
    let mut other = b.ws().await;
    assert_eq!(other.chat("still here").await.0, ChatStatus::Sent);
    let seen = reader.chat_line().await;
    assert_eq!(seen.text, "still here");

    let unmuted = a
        .admin("chat/unmute", Some(json!({ "player": player })))
        .await;
    assert_eq!(
        unmuted.json::<serde_json::Value>().await.unwrap()["lifted"],
        true
    );
    assert_eq!(loud.chat("back").await.0, ChatStatus::Sent);
    let audit: serde_json::Value = a.admin("audit", None).await.json().await.unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"chat-mute") && actions.contains(&"chat-unmute"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn the_rate_limit_refuses_with_the_time_to_wait_on_every_instance() {
    let (_redis, a, b) = two(&[("CHAT_PER_MINUTE", "2")]).await;
    let mut on_a = a.ws().await;
    let cookie = on_a.new_session.clone().expect("a session");
    assert_eq!(on_a.chat("one").await.0, ChatStatus::Sent);
    assert_eq!(on_a.chat("two").await.0, ChatStatus::Sent);
    // The same session on the other instance shares the limit.
    let mut on_b = WsClient::with_session(&b.api, &cookie).await;
    let (status, retry_after_ms) = on_b.chat("three").await;
    assert_eq!(status, ChatStatus::RateLimited);
    assert!((1..=60_000).contains(&retry_after_ms), "{retry_after_ms}");
}

#[tokio::test]
async fn a_removed_message_leaves_every_open_page_and_is_not_shown_again() {
    let (_redis, a, b) = two(&[]).await;
    let mut writer = a.ws().await;
    let mut reader = b.ws().await;
    assert_eq!(writer.chat("rude words").await.0, ChatStatus::Sent);
    let line = reader.chat_line().await;

    let removed = a
        .admin("chat/remove", Some(json!({ "id": line.id })))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(removed["removed"], true);
    for page in [&mut writer, &mut reader] {
        loop {
            if let ServerMessage::ChatRemoved { id } = page.recv().await {
                assert_eq!(id, line.id);
                break;
            }
        }
    }
    // Gone from the store and from each instance's copy.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for app in [&a, &b] {
        let mut fresh = app.ws().await;
        let lines = fresh.chat_lines_within(Duration::from_millis(300)).await;
        assert!(!lines.iter().any(|l| l.id == line.id), "{lines:?}");
    }
    let again = b
        .admin("chat/remove", Some(json!({ "id": line.id })))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(again["removed"], false);
}

#[tokio::test]
async fn what_is_not_a_message_is_refused_and_a_banned_player_is_not_heard() {
    let app = spawn_app(&[("ADMIN_TOKEN", TOKEN)]).await;
    let mut ws = app.ws().await;
    for bad in ["", "   ", &"x".repeat(201), "bell\u{7}"] {
        assert_eq!(ws.chat(bad).await.0, ChatStatus::Invalid, "{bad:?}");
        // Past the connection's burst, frames wait their turn.
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    assert_eq!(ws.chat("hello").await.0, ChatStatus::Sent);
    let player = ws.chat_line().await.player;
    let banned = app
        .admin("ban", Some(json!({ "session": player, "minutes": 5 })))
        .await;
    assert_eq!(banned.status(), 200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(ws.chat("let me in").await.0, ChatStatus::Banned);
}

#[tokio::test]
async fn a_closed_chat_refuses_every_message() {
    let app = spawn_app(&[("CHAT", "off")]).await;
    let mut ws = app.ws().await;
    assert_eq!(ws.chat("hello").await.0, ChatStatus::NotAllowed);
}

#[tokio::test]
async fn a_reported_message_reaches_the_moderators_queue_as_it_read() {
    let (_redis, a, b) = two(&[]).await;
    let mut writer = a.ws().await;
    let mut reader = b.ws().await;
    let reader_cookie = reader.new_session.clone().expect("a session");
    assert_eq!(writer.chat("something rude").await.0, ChatStatus::Sent);
    let line = reader.chat_line().await;
    let report = |id: u64| {
        b.http
            .post(b.url("/api/chat/report"))
            .header("cookie", &reader_cookie)
            .json(&json!({ "id": id, "reason": "rude" }))
            .send()
    };
    assert_eq!(report(line.id + 1000).await.unwrap().status(), 404);
    assert_eq!(report(line.id).await.unwrap().status(), 200);
    let queued: serde_json::Value = a.admin("reports", None).await.json().await.unwrap();
    let message = &queued["reports"][0]["message"];
    assert_eq!(message["id"], line.id);
    assert_eq!(message["text"], "something rude");
    assert_eq!(message["player"], line.player.as_str());
    assert_eq!(queued["reports"][0]["reason"], "rude");
}
