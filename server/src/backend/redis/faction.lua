-- One change to a faction, checked and made in one step (docs/redis.md,
-- "Factions"). Its keys are made from the faction prefix as
-- `Keys::faction_prefix` describes: which faction a change touches is only
-- known once the member's badge is read.
-- ARGV: 1 the operation, 2 the faction prefix, then by operation:
--   create: 3 founder, 4 name, 5 tag, 6 color, 7 now (unix ms)
--   invite: 3 by, 4 code, 5 its time to live (s)
--   revoke: 3 by (every invitation to their faction stops working)
--   join:   3 handle, 4 code, 5 the most members a faction holds
--   leave:  3 handle
--   role:   3 by, 4 member, 5 their new role ('' removes them)
-- Returns {'ok', faction id} or {'no', why}, why as
-- `FactionRefusal::from_code` reads it. Every check comes before the first
-- write.
local op, p = ARGV[1], ARGV[2]
local of, tags = p .. 'of', p .. 'tags'
local RANK = {owner = 3, officer = 2, member = 1}

local function refuse(why)
  return {'no', why}
end

-- A member's faction id and role, from their badge.
local function role_of(handle)
  local badge = redis.call('HGET', of, handle)
  if not badge then
    return nil
  end
  local id = string.match(badge, '^(%d+),')
  return id, redis.call('HGET', p .. id .. ':members', handle)
end

if op == 'create' then
  local founder, name, tag, color, now = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  if redis.call('HEXISTS', of, founder) == 1 then
    return refuse('in-a-faction')
  end
  if redis.call('HEXISTS', tags, tag) == 1 then
    return refuse('tag-taken')
  end
  local id = tostring(redis.call('INCR', p .. 'ids'))
  redis.call('HSET', p .. id, 'name', name, 'tag', tag, 'color', color, 'created', now)
  redis.call('HSET', p .. id .. ':members', founder, 'owner')
  redis.call('HSET', tags, tag, id)
  redis.call('HSET', of, founder, id .. ',' .. tag .. ',' .. color)
  return {'ok', id}
end

-- The faction of a player who may invite to it (an officer or the
-- owner), or nil and why not.
local function inviter(handle)
  local id, role = role_of(handle)
  if not id then
    return nil, 'not-in-a-faction'
  end
  if role ~= 'owner' and role ~= 'officer' then
    return nil, 'not-allowed'
  end
  return id
end

if op == 'invite' then
  local id, why = inviter(ARGV[3])
  if not id then
    return refuse(why)
  end
  -- The faction's invitations' generation goes with the id: revoking
  -- them is moving it on, whatever the number of codes out.
  local generation = redis.call('HGET', p .. id, 'invites') or '0'
  redis.call('SET', p .. 'invite:' .. ARGV[4], id .. ':' .. generation, 'EX', ARGV[5])
  return {'ok', id}
end

if op == 'revoke' then
  local id, why = inviter(ARGV[3])
  if not id then
    return refuse(why)
  end
  redis.call('HINCRBY', p .. id, 'invites', 1)
  return {'ok', id}
end

if op == 'join' then
  local handle = ARGV[3]
  local id, generation = string.match(redis.call('GET', p .. 'invite:' .. ARGV[4]) or '',
    '^(%d+):?(%d*)$')
  if not id or redis.call('EXISTS', p .. id) == 0 then
    return refuse('no-invitation')
  end
  if (redis.call('HGET', p .. id, 'invites') or '0') ~= (generation ~= '' and generation or '0') then
    return refuse('no-invitation')
  end
  if redis.call('HEXISTS', of, handle) == 1 then
    return refuse('in-a-faction')
  end
  local members = p .. id .. ':members'
  if redis.call('HLEN', members) >= tonumber(ARGV[5]) then
    return refuse('full')
  end
  local faction = redis.call('HMGET', p .. id, 'tag', 'color')
  redis.call('HSET', members, handle, 'member')
  redis.call('HSET', of, handle, id .. ',' .. faction[1] .. ',' .. faction[2])
  return {'ok', id}
end

if op == 'leave' then
  local handle = ARGV[3]
  local id, role = role_of(handle)
  if not id then
    return refuse('not-in-a-faction')
  end
  local members = p .. id .. ':members'
  redis.call('HDEL', members, handle)
  redis.call('HDEL', of, handle)
  if role == 'owner' then
    -- The first officer by handle, else the first member; nobody left:
    -- the faction is disbanded (its tag free again).
    local heir, heir_rank
    local all = redis.call('HGETALL', members)
    for i = 1, #all, 2 do
      local h, r = all[i], RANK[all[i + 1]] or 0
      if not heir or r > heir_rank or (r == heir_rank and h < heir) then
        heir, heir_rank = h, r
      end
    end
    if heir then
      redis.call('HSET', members, heir, 'owner')
    else
      redis.call('HDEL', tags, redis.call('HGET', p .. id, 'tag'))
      redis.call('DEL', p .. id, members)
    end
  end
  return {'ok', id}
end

if op == 'role' then
  local by, member, to = ARGV[3], ARGV[4], ARGV[5]
  local id, by_role = role_of(by)
  if not id then
    return refuse('not-in-a-faction')
  end
  local members = p .. id .. ':members'
  local from = by ~= member and redis.call('HGET', members, member)
  if not from then
    return refuse('not-a-member')
  end
  -- As `Role::may_set`.
  local allowed = (by_role == 'owner' and from ~= 'owner')
    or (by_role == 'officer' and from == 'member' and to == '')
  if not allowed then
    return refuse('not-allowed')
  end
  if to == '' then
    redis.call('HDEL', members, member)
    redis.call('HDEL', of, member)
  elseif to == 'owner' then
    redis.call('HSET', members, member, 'owner', by, 'officer')
  else
    redis.call('HSET', members, member, to)
  end
  return {'ok', id}
end

return redis.error_reply('unknown faction operation ' .. tostring(op))
