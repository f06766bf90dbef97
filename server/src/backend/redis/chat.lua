-- One chat message, checked and posted in one step (docs/redis.md, "Chat").
-- KEYS: 1 the channel's stream (the canvas's, or a faction's), 2 the id
--       counter, 3 the session's hash, 4 its ban key, 5 its address's ban
--       key, 6 its mute key, 7 its rate key, 8 its address's rate key, 9 the
--       hash of the factions' badges
-- ARGV: 1 now (ms), 2 messages kept, 3 the canvas's channel, 4 the session
--       handle, 5 the text, 6 messages per session and window, 7 per address,
--       8 the window (ms), 9 1 when an unverified session must solve the
--       challenge first, 10 the faction whose channel it goes to ('' for the
--       global one)
-- Returns {SENT, id, name}, {SHADOWED, id, name} (shadow-banned: nothing
-- kept or published), {RATE_LIMITED, ms left}, {MUTED, ms left},
-- {BANNED, ms left}, {NEEDS_CHALLENGE, 0} or {NOT_IN_FACTION, 0}; codes as
-- in `chat_code` (redis/store.rs). Every check comes before the first
-- write. The name kept and published carries the author's faction's tag:
-- `[TAG] name`.
local SENT, SHADOWED, RATE_LIMITED, MUTED, BANNED, NEEDS_CHALLENGE, NOT_IN_FACTION =
  0, 1, 2, 3, 4, 5, 6

-- Time left on a key (one that never expires: 1 ms, "for now").
local function left(key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    return 1
  end
  return ttl
end

local shadowed = false
for _, key in ipairs({KEYS[4], KEYS[5]}) do
  local kind = redis.call('GET', key)
  if kind == 's' then
    shadowed = true
  elseif kind then
    return {BANNED, left(key)}
  end
end
if redis.call('EXISTS', KEYS[6]) == 1 then
  return {MUTED, left(KEYS[6])}
end
if ARGV[9] == '1' and redis.call('HEXISTS', KEYS[3], 'v') == 0 then
  return {NEEDS_CHALLENGE, 0}
end
local badge = redis.call('HGET', KEYS[9], ARGV[4])
if ARGV[10] ~= '' and (not badge or string.match(badge, '^(%d+),') ~= ARGV[10]) then
  return {NOT_IN_FACTION, 0}
end
local limits = {tonumber(ARGV[6]), tonumber(ARGV[7])}
for i, key in ipairs({KEYS[7], KEYS[8]}) do
  if tonumber(redis.call('GET', key) or '0') >= limits[i] then
    return {RATE_LIMITED, left(key)}
  end
end
for _, key in ipairs({KEYS[7], KEYS[8]}) do
  redis.call('INCR', key)
  redis.call('PEXPIRE', key, ARGV[8], 'NX')
end
local name = redis.call('HGET', KEYS[3], 'name') or ''
if badge then
  local tag = string.match(badge, '^%d+,([^,]+),')
  if name == '' then
    name = '[' .. tag .. ']'
  else
    name = '[' .. tag .. '] ' .. name
  end
end
if shadowed then
  return {SHADOWED, 0, name}
end
local id = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'i', id, 'at', ARGV[1], 'p', ARGV[4], 'n', name,
  't', ARGV[5])
local line = cjson.encode({i = id, at = tonumber(ARGV[1]), p = ARGV[4], n = name, t = ARGV[5]})
if ARGV[10] == '' then
  redis.call('PUBLISH', ARGV[3], 'chat:' .. line)
else
  redis.call('PUBLISH', ARGV[3], 'fchat:' .. ARGV[10] .. ':' .. line)
end
return {SENT, id, name}
