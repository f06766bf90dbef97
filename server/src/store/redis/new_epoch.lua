-- Starts a new epoch if the current one is still `stale`: the history went
-- back on what instances had applied (a failover to a replica that lacked the
-- last writes), so seqs of the old epoch can no longer be trusted by clients.
-- Seq and history carry on; only their epoch changes.
-- KEYS: 1 epoch
-- ARGV: 1 stale epoch, 2 the new one
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])
