-- Archives a PNG of the canvas at a seq, keeping the newest few.
-- KEYS: 1 the index (sorted set, score and member the seq), 2 the PNGs
--       (hash seq -> PNG), 3 when each was taken (hash seq -> unix ms)
-- ARGV: 1 seq, 2 unix ms, 3 the PNG, 4 how many to keep
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[1], extra)
  for i = 1, #dropped, 2 do
    redis.call('HDEL', KEYS[2], dropped[i])
    redis.call('HDEL', KEYS[3], dropped[i])
  end
end
return 1
