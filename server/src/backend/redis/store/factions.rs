//! The Redis store's factions: each change one call of `faction.lua`, the
//! badges one `HMGET`, the boards counted with the others in `fold.lua`.

use super::{malformed, RedisStore};
use crate::{
    backend::{FactionChange, FactionStore, StoreError, INVITATION_TTL},
    model::{by_rank, unix_ms, Badge, FactionRecord, FactionRefusal, Period},
};
use app::faction::{FactionColor, FactionName, FactionTag, Role, MAX_MEMBERS};
use async_trait::async_trait;
use redis::Script;
use std::{
    collections::HashMap,
    sync::LazyLock,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

static FACTION: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../faction.lua")));

impl RedisStore {
    /// Runs one operation of `faction.lua`: the faction's id, or why not.
    async fn change_faction(&self, op: &str, args: &[&str]) -> FactionChange<u64> {
        let mut invocation = FACTION.prepare_invoke();
        invocation.arg(op).arg(self.keys.faction_prefix());
        for arg in args {
            invocation.arg(*arg);
        }
        let (status, value): (String, String) = self
            .master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        match status.as_str() {
            "ok" => value
                .parse()
                .map(Ok)
                .map_err(|_| malformed("faction.lua's faction id")),
            _ => FactionRefusal::from_code(&value)
                .map(Err)
                .ok_or_else(|| malformed("faction.lua's refusal")),
        }
    }
}

#[async_trait]
impl FactionStore for RedisStore {
    async fn create_faction(
        &self,
        founder: &str,
        name: &FactionName,
        tag: &FactionTag,
        color: &FactionColor,
    ) -> FactionChange<u64> {
        let now = unix_ms(SystemTime::now()).to_string();
        self.change_faction(
            "create",
            &[founder, name.as_str(), tag.as_str(), color.as_str(), &now],
        )
        .await
    }

    async fn faction(&self, id: u64) -> Result<Option<FactionRecord>, StoreError> {
        let key = format!("{}{id}", self.keys.faction_prefix());
        let (fields, members): (HashMap<String, String>, HashMap<String, String>) = self
            .master
            .run(|mut c| async move {
                redis::pipe()
                    .hgetall(&key)
                    .hgetall(format!("{key}:members"))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let created_ms: u64 = field("created").parse().unwrap_or_default();
        let mut members: Vec<(String, Role)> = members
            .into_iter()
            .filter_map(|(handle, role)| Some((handle, Role::parse(&role).ok()?)))
            .collect();
        by_rank(&mut members);
        Ok(Some(FactionRecord {
            id,
            name: field("name"),
            tag: field("tag"),
            color: field("color"),
            created_at: UNIX_EPOCH + Duration::from_millis(created_ms),
            members,
        }))
    }

    async fn badges(&self, handles: &[String]) -> Result<Vec<Option<Badge>>, StoreError> {
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let (key, fields) = (self.keys.faction_of(), handles.to_vec());
        let badges: Vec<Option<String>> = self
            .master
            .run(|mut c| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg(fields)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(badges
            .iter()
            .map(|badge| badge.as_deref().and_then(Badge::decode))
            .collect())
    }

    async fn invite(&self, by: &str, code: &str) -> FactionChange<u64> {
        let ttl = INVITATION_TTL.as_secs().to_string();
        self.change_faction("invite", &[by, code, &ttl]).await
    }

    async fn revoke_invitations(&self, by: &str) -> FactionChange<u64> {
        self.change_faction("revoke", &[by]).await
    }

    async fn join_faction(&self, handle: &str, code: &str) -> FactionChange<u64> {
        let max = MAX_MEMBERS.to_string();
        self.change_faction("join", &[handle, code, &max]).await
    }

    async fn leave_faction(&self, handle: &str) -> FactionChange<u64> {
        self.change_faction("leave", &[handle]).await
    }

    async fn set_role(&self, by: &str, member: &str, role: Option<Role>) -> FactionChange<()> {
        let role = role.map_or("", Role::as_str);
        Ok(self
            .change_faction("role", &[by, member, role])
            .await?
            .map(|_| ()))
    }

    async fn faction_board(
        &self,
        period: Period,
        count: usize,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let key = self.keys.faction_board(period, SystemTime::now());
        let top: Vec<(String, f64)> = self
            .master
            .run(|mut c| async move {
                redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(count.saturating_sub(1))
                    .arg("REV")
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(top
            .into_iter()
            .filter_map(|(id, score)| Some((id.parse().ok()?, score.max(0.0) as u64)))
            .collect())
    }
}
