//! The embedded store's factions: the same rules `faction.lua` keeps in
//! Redis, on maps behind the deployment's mutex.

use super::day_and_week;
use crate::{
    backend::INVITATION_TTL,
    model::{by_rank, Badge, FactionRecord, FactionRefusal, Period},
};
use app::faction::{FactionColor, FactionName, FactionTag, Role, MAX_MEMBERS};
use std::{collections::HashMap, time::SystemTime};

/// Every faction of the deployment.
#[derive(Default)]
pub(super) struct Factions {
    last_id: u64,
    by_id: HashMap<u64, Faction>,
    /// Tag -> faction id.
    tags: HashMap<String, u64>,
    /// Member handle -> their badge.
    of: HashMap<String, Badge>,
    /// Invitation code -> faction id, until when.
    invitations: HashMap<String, (u64, SystemTime)>,
}

struct Faction {
    name: String,
    tag: String,
    color: String,
    created_at: SystemTime,
    members: HashMap<String, Role>,
}

impl Factions {
    pub(super) fn create(
        &mut self,
        founder: &str,
        name: &FactionName,
        tag: &FactionTag,
        color: &FactionColor,
    ) -> Result<u64, FactionRefusal> {
        if self.of.contains_key(founder) {
            return Err(FactionRefusal::InAFaction);
        }
        if self.tags.contains_key(tag.as_str()) {
            return Err(FactionRefusal::TagTaken);
        }
        self.last_id += 1;
        let id = self.last_id;
        let faction = Faction {
            name: name.as_str().to_owned(),
            tag: tag.as_str().to_owned(),
            color: color.as_str().to_owned(),
            created_at: SystemTime::now(),
            members: HashMap::from([(founder.to_owned(), Role::Owner)]),
        };
        self.of.insert(founder.to_owned(), faction.badge(id));
        self.tags.insert(faction.tag.clone(), id);
        self.by_id.insert(id, faction);
        Ok(id)
    }

    pub(super) fn record(&self, id: u64) -> Option<FactionRecord> {
        let faction = self.by_id.get(&id)?;
        let mut members: Vec<(String, Role)> = faction
            .members
            .iter()
            .map(|(handle, role)| (handle.clone(), *role))
            .collect();
        by_rank(&mut members);
        Some(FactionRecord {
            id,
            name: faction.name.clone(),
            tag: faction.tag.clone(),
            color: faction.color.clone(),
            created_at: faction.created_at,
            members,
        })
    }

    pub(super) fn badge(&self, handle: &str) -> Option<Badge> {
        self.of.get(handle).cloned()
    }

    pub(super) fn invite(&mut self, by: &str, code: &str) -> Result<u64, FactionRefusal> {
        let (id, role) = self.role_of(by)?;
        if !role.invites() {
            return Err(FactionRefusal::NotAllowed);
        }
        let now = SystemTime::now();
        self.invitations.retain(|_, (_, until)| *until > now);
        self.invitations
            .insert(code.to_owned(), (id, now + INVITATION_TTL));
        Ok(id)
    }

    pub(super) fn revoke(&mut self, by: &str) -> Result<u64, FactionRefusal> {
        let (id, role) = self.role_of(by)?;
        if !role.invites() {
            return Err(FactionRefusal::NotAllowed);
        }
        self.invitations.retain(|_, (faction, _)| *faction != id);
        Ok(id)
    }

    pub(super) fn join(&mut self, handle: &str, code: &str) -> Result<u64, FactionRefusal> {
        let now = SystemTime::now();
        let id = match self.invitations.get(code) {
            Some((id, until)) if *until > now => *id,
            _ => return Err(FactionRefusal::NoInvitation),
        };
        if self.of.contains_key(handle) {
            return Err(FactionRefusal::InAFaction);
        }
        let faction = self
            .by_id
            .get_mut(&id)
            .ok_or(FactionRefusal::NoInvitation)?;
        if faction.members.len() >= MAX_MEMBERS {
            return Err(FactionRefusal::Full);
        }
        faction.members.insert(handle.to_owned(), Role::Member);
        let badge = faction.badge(id);
        self.of.insert(handle.to_owned(), badge);
        Ok(id)
    }

    pub(super) fn leave(&mut self, handle: &str) -> Result<u64, FactionRefusal> {
        let (id, role) = self.role_of(handle)?;
        self.of.remove(handle);
        let faction = self.by_id.get_mut(&id).expect("a member's faction exists");
        faction.members.remove(handle);
        if role == Role::Owner {
            // The first officer by handle, else the first member.
            let heir = faction
                .members
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(handle, _)| handle.clone());
            match heir {
                Some(heir) => {
                    faction.members.insert(heir, Role::Owner);
                }
                None => {
                    let faction = self.by_id.remove(&id).expect("just found");
                    self.tags.remove(&faction.tag);
                    self.invitations.retain(|_, (of, _)| *of != id);
                }
            }
        }
        Ok(id)
    }

    pub(super) fn set_role(
        &mut self,
        by: &str,
        member: &str,
        role: Option<Role>,
    ) -> Result<(), FactionRefusal> {
        let (id, by_role) = self.role_of(by)?;
        let faction = self.by_id.get_mut(&id).expect("a member's faction exists");
        let from = *faction
            .members
            .get(member)
            .filter(|_| member != by)
            .ok_or(FactionRefusal::NotAMember)?;
        if !by_role.may_set(from, role) {
            return Err(FactionRefusal::NotAllowed);
        }
        match role {
            None => {
                faction.members.remove(member);
                self.of.remove(member);
            }
            Some(Role::Owner) => {
                faction.members.insert(member.to_owned(), Role::Owner);
                faction.members.insert(by.to_owned(), Role::Officer);
            }
            Some(role) => {
                faction.members.insert(member.to_owned(), role);
            }
        }
        Ok(())
    }

    fn role_of(&self, handle: &str) -> Result<(u64, Role), FactionRefusal> {
        let id = self
            .of
            .get(handle)
            .ok_or(FactionRefusal::NotInAFaction)?
            .faction;
        let role = self.by_id[&id].members[handle];
        Ok((id, role))
    }
}

impl Faction {
    fn badge(&self, id: u64) -> Badge {
        Badge {
            faction: id,
            tag: self.tag.clone(),
            color: self.color.clone(),
        }
    }
}

/// What each faction's members placed on one canvas while members.
#[derive(Default)]
pub(super) struct FactionBoards {
    placed: HashMap<u64, u64>,
    /// Today's (by its day since 1970) and this week's.
    today: (u64, HashMap<u64, u64>),
    this_week: (u64, HashMap<u64, u64>),
}

impl FactionBoards {
    pub(super) fn count(&mut self, faction: u64, at: SystemTime) {
        let (day, week) = day_and_week(at);
        for (period, board) in [(day, &mut self.today), (week, &mut self.this_week)] {
            if board.0 != period {
                *board = (period, HashMap::new());
            }
            *board.1.entry(faction).or_default() += 1;
        }
        *self.placed.entry(faction).or_default() += 1;
    }

    /// A board, best first (ties: the newer faction first, as the Redis
    /// store's sorted set read in reverse gives them).
    pub(super) fn top(&self, period: Period, now: SystemTime) -> Vec<(u64, u64)> {
        let (day, week) = day_and_week(now);
        let scores = match period {
            Period::All => &self.placed,
            Period::Today if self.today.0 == day => &self.today.1,
            Period::ThisWeek if self.this_week.0 == week => &self.this_week.1,
            _ => return Vec::new(),
        };
        let mut top: Vec<(u64, u64)> = scores.iter().map(|(id, n)| (*id, *n)).collect();
        top.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| b.0.to_string().cmp(&a.0.to_string()))
        });
        top
    }
}
