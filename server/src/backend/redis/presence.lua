-- Records this instance's count of open sockets and returns the total over
-- every instance whose record has not expired. Expired records (an instance
-- that died) are removed. Redis's clock judges expiry, so instances' clocks
-- need not agree.
-- KEYS: 1 presence hash (instance id -> "<count>:<expires at, ms>")
-- ARGV: 1 instance id, 2 count, 3 time to live (ms)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
local total = 0
local records = redis.call('HGETALL', KEYS[1])
for i = 1, #records, 2 do
  local count, expires = string.match(records[i + 1], '^(%d+):(%d+)$')
  if count and tonumber(expires) > now then
    total = total + tonumber(count)
  else
    redis.call('HDEL', KEYS[1], records[i])
  end
end
return total
