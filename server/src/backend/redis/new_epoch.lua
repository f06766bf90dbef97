-- Starts a new epoch if the current one is still `stale`: the history went
-- back on what instances had applied (a failover to a replica that lacked the
-- last writes), so seqs of the old epoch can no longer be trusted by clients.
-- Seq and history carry on; only their epoch changes.
-- Every instance is told on the channel, so each reloads even if it has no
-- placement to learn it from.
-- KEYS: 1 epoch
-- ARGV: 1 stale epoch, 2 the new one, 3 channel
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('PUBLISH', ARGV[3], 'epoch:' .. ARGV[2])
end
return redis.call('GET', KEYS[1])
