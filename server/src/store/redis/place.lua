-- One placement, all or nothing (docs/redis.md).
-- KEYS: 1 epoch, 2 seq, 3 pixels, 4 history, 5 meta, 6 this session's cooldown,
--       7 this session
-- ARGV: 1 pixel index, 2 color, 3 x, 4 y, 5 now (ms), 6 cooldown (ms),
--       7 history length, 8 channel, 9 epoch to start if none
-- Returns {1, ms left} in cooldown, else {0, seq}.
-- Every check comes before the first write, so an error cannot leave a
-- placement half-applied.
local cooldown = tonumber(ARGV[6])
if cooldown > 0 then
  local left = redis.call('PTTL', KEYS[6])
  if left > 0 then
    return {1, left}
  end
end

local epoch = redis.call('GET', KEYS[1])
if not epoch then
  -- No epoch: a new canvas, or one whose history was lost. Its seqs start
  -- again, so clients must reload (the new epoch tells them).
  epoch = ARGV[9]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[4])
end

local seq = redis.call('INCR', KEYS[2])
redis.call('SETRANGE', KEYS[3], ARGV[1], string.char(tonumber(ARGV[2])))
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], seq .. '-1',
  'x', ARGV[3], 'y', ARGV[4], 'c', ARGV[2])
local name = redis.call('HGET', KEYS[7], 'name') or ''
redis.call('HSET', KEYS[5], ARGV[1], seq .. ',' .. ARGV[5] .. ',' .. name)
if cooldown > 0 then
  redis.call('SET', KEYS[6], '1', 'PX', cooldown)
end
redis.call('PUBLISH', ARGV[8],
  epoch .. ':' .. seq .. ':' .. ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[2] .. ':' .. ARGV[5])
return {0, seq}
