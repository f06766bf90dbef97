-- Redeems a solved puzzle for a session: each puzzle verifies one session.
-- KEYS: 1 the puzzle's key (remembered while it could be answered),
--       2 the session's hash
-- ARGV: 1 how long the puzzle stays answerable (ms), 2 the session's TTL (s)
-- Returns 1 when the session is now verified, 0 when the puzzle was
-- redeemed before.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[2], 'v', '1')
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
