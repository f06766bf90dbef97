-- Placements after a seq, with the epoch and newest seq to judge them by.
-- KEYS: 1 epoch, 2 seq, 3 history
-- ARGV: 1 after this seq, 2 at most this many
-- Returns {epoch or '', newest seq, entries}.
local epoch = redis.call('GET', KEYS[1]) or ''
local seq = redis.call('GET', KEYS[2]) or '0'
local entries = redis.call('XRANGE', KEYS[3], '(' .. ARGV[1] .. '-1', '+', 'COUNT', ARGV[2])
return {epoch, seq, entries}
