-- Counts a stretch of the history on the leaderboards (docs/redis.md,
-- "Leaderboards"), once: only if the history was folded up to exactly
-- where the caller read from, so two instances folding the same stretch
-- count it once, and a fold is all or nothing.
-- KEYS: 1 the history entry folded up to (its ID; missing: none yet)
-- ARGV: 1 the entry the caller read after ('' for none), 2 the last entry
--       it read, 3 the board of first placements, 4 the board of last
--       placements, 5 how many counts follow, then for each a board key,
--       what to add, the player and the board's time to live in seconds
--       (0: none), then for each player who placed a player, when they
--       placed first and last in the stretch (unix ms)
-- Returns 1, or 0 (nothing counted) when another fold got there first.
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then
  return 0
end
local counts = tonumber(ARGV[5])
local expire = {}
local i = 6
for _ = 1, counts do
  local key, by, player, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  if tonumber(redis.call('ZINCRBY', key, by, player)) <= 0 then
    redis.call('ZREM', key, player)
  end
  if ttl > 0 then
    expire[key] = ttl
  end
  i = i + 4
end
for key, ttl in pairs(expire) do
  redis.call('EXPIRE', key, ttl)
end
local firsts, lasts = {}, {}
while i <= #ARGV do
  local player, first, last = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  firsts[#firsts + 1] = first
  firsts[#firsts + 1] = player
  lasts[#lasts + 1] = last
  lasts[#lasts + 1] = player
  i = i + 3
end
if #firsts > 0 then
  redis.call('ZADD', ARGV[3], 'NX', unpack(firsts))
  redis.call('ZADD', ARGV[4], 'GT', unpack(lasts))
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
