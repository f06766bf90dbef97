-- Archives a PNG of the canvas at a seq, keeping the newest few within a
-- byte budget (the newest always stays).
-- KEYS: 1 the index (sorted set, score and member the seq), 2 the PNGs
--       (hash seq -> PNG), 3 when each was taken (hash seq -> unix ms),
--       4 the PNGs' total size in bytes
-- ARGV: 1 seq, 2 unix ms, 3 the PNG, 4 how many to keep, 5 how many bytes
local total = redis.call('GET', KEYS[4])
if total then
  total = tonumber(total)
else
  -- Archived before the total was kept: count it once.
  total = 0
  for _, seq in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    total = total + redis.call('HSTRLEN', KEYS[2], seq)
  end
end
total = total - redis.call('HSTRLEN', KEYS[2], ARGV[1]) + #ARGV[3]
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local keep, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
while count > 1 and (count > keep or total > budget) do
  local oldest = redis.call('ZPOPMIN', KEYS[1])[1]
  total = total - redis.call('HSTRLEN', KEYS[2], oldest)
  redis.call('HDEL', KEYS[2], oldest)
  redis.call('HDEL', KEYS[3], oldest)
  count = count - 1
end
redis.call('SET', KEYS[4], total)
return 1
