-- Enlarges the canvas: its size becomes at least the one asked on each
-- side, never smaller; every instance is told on the channel, in order with
-- the placements (so none sees a tile of the new area before its size).
-- KEYS: 1 size (`<w>,<h>`; absent: the instances' configured size)
-- ARGV: 1 width asked, 2 height asked, 3 the configured width, 4 the
--       configured height, 5 channel
-- Returns {width, height} kept.
local kept = redis.call('GET', KEYS[1])
local width, height = tonumber(ARGV[3]), tonumber(ARGV[4])
if kept then
  local w, h = string.match(kept, '^(%d+),(%d+)$')
  width, height = math.max(width, tonumber(w)), math.max(height, tonumber(h))
end
local grown_w, grown_h = math.max(width, tonumber(ARGV[1])), math.max(height, tonumber(ARGV[2]))
if grown_w ~= width or grown_h ~= height or not kept then
  local size = string.format('%d,%d', grown_w, grown_h)
  redis.call('SET', KEYS[1], size)
  redis.call('PUBLISH', ARGV[5], 'size:' .. size)
end
return {grown_w, grown_h}
