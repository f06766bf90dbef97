-- The canvas with the epoch and seq it is current to, read atomically.
-- KEYS: 1 epoch, 2 seq, 3 pixels, 4 history
-- ARGV: 1 epoch to start if none
-- Returns {epoch, seq, pixels}.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[4])
end
return {epoch, redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[3]) or ''}
