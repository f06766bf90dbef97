//! The Redis store's watched templates: a hash of records as JSON, each
//! change published on the canvas's channel (`watch:<id>`,
//! `watch-removed:<id>`) in the same `MULTI` as the change.

use super::{malformed, RedisStore};
use crate::{
    backend::{StoreError, WatchStore},
    model::WatchRecord,
};
use async_trait::async_trait;
use std::collections::HashMap;

/// How long an alert's turn is remembered (instances raise the same alert
/// within seconds of each other).
const ALERT_TURN_SECS: u64 = 3600;

#[async_trait]
impl WatchStore for RedisStore {
    async fn add_watch(&self, mut record: WatchRecord) -> Result<u64, StoreError> {
        let ids = self.keys.watch_ids();
        let id: u64 = self
            .master
            .run(|mut c| async move { redis::cmd("INCR").arg(ids).query_async(&mut c).await })
            .await?;
        record.id = id;
        let json = serde_json::to_string(&record).map_err(|_| malformed("a watch record"))?;
        let (key, channel) = (self.keys.watches(), self.keys.channel.clone());
        self.master
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .hset(&key, id, &json)
                    .ignore()
                    .publish(&channel, format!("watch:{id}"))
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await?;
        Ok(id)
    }

    async fn watches(&self) -> Result<Vec<WatchRecord>, StoreError> {
        let key = self.keys.watches();
        let all: HashMap<u64, String> = self
            .master
            .run(|mut c| async move { redis::cmd("HGETALL").arg(key).query_async(&mut c).await })
            .await?;
        let mut records: Vec<WatchRecord> = all
            .values()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect();
        records.sort_by_key(|record| record.id);
        Ok(records)
    }

    async fn watch(&self, id: u64) -> Result<Option<WatchRecord>, StoreError> {
        let key = self.keys.watches();
        let json: Option<String> = self
            .master
            .run(|mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg(id)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }

    async fn remove_watch(&self, id: u64) -> Result<bool, StoreError> {
        let (key, channel) = (self.keys.watches(), self.keys.channel.clone());
        let removed: u8 = self
            .master
            .run(|mut c| async move {
                redis::cmd("HDEL")
                    .arg(key)
                    .arg(id)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if removed == 1 {
            self.master
                .run(|mut c| async move {
                    redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(format!("watch-removed:{id}"))
                        .query_async::<()>(&mut c)
                        .await
                })
                .await?;
        }
        Ok(removed == 1)
    }

    async fn claim_alert(&self, id: u64, seq: u64) -> Result<bool, StoreError> {
        let key = self.keys.watch_alert(id, seq);
        let taken: Option<String> = self
            .master
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("NX")
                    .arg("EX")
                    .arg(ALERT_TURN_SECS)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(taken.is_some())
    }
}
