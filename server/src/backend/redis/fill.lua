-- A moderator's fill (or a rollback's restoring): colors on many pixels, as
-- ordinary placements (each its own seq) in one atomic step, whatever the
-- freeze, bans and cooldowns (docs/redis.md). The caller sends a large fill
-- in chunks of these.
-- KEYS: 1 epoch, 2 seq, 3 chunks (the painted chunks' versions), 4 history,
--       5 meta
-- ARGV: 1 now (ms), 2 history length, 3 channel, 4 epoch to start if none,
--       5 each tile's record key (`y * 65536 + x`, u32, little-endian), 6 the placer
--       (`<session>,<address>`), 7 the name the pixels are placed by, 8 the
--       tiles, five bytes each as in a Tiles frame, 9 the chunk keys' prefix
--       (`<prefix>:chunk:`; the keys are made here, as in place.lua)
-- The history entry names the placer whose pixel each tile took (`o`, as
-- place.lua's), so the boards count the pixels a fill takes from them.
-- Returns {first seq, last seq}.
local now, keep, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local indices, placer, name, packed = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local tail = placer .. ',' .. name
local chunk_prefix = ARGV[9]
local count = #packed / 5

local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[4]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[4])
  for _, chunk in ipairs(redis.call('HKEYS', KEYS[3])) do
    redis.call('HSET', KEYS[3], chunk, 0)
  end
end
local first = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local last = first + count - 1
if count == 0 then
  return {first, last}
end

-- BITFIELD, HSET and HMGET in slices: Lua's unpack takes a few thousand
-- values.
local SLICE = 1000

-- Whose pixel each tile takes, read before the records are replaced.
local replaced = {}
for start = 0, count - 1, SLICE do
  local slice = {}
  for i = start, math.min(start + SLICE, count) - 1 do
    slice[#slice + 1] = struct.unpack('<I4', indices, i * 4 + 1)
  end
  for _, record in ipairs(redis.call('HMGET', KEYS[5], unpack(slice))) do
    local handle = record and string.match(record, '^v2,%d+,%d+,(%x+),')
    replaced[#replaced + 1] = (handle and #handle == 16) and handle or '-'
  end
end

-- First, as the one write that can be refused (an ID below the stream's
-- newest, if the seq was tampered with).
local first_id, last_id = string.format('%d', first), string.format('%d', last)
redis.call('XADD', KEYS[4], 'MINID', '~', string.format('%d', math.max(last - keep, 0)),
  last_id .. '-0', 'f', first_id, 't', packed, 'at', now, 'p',
  string.rep(placer .. ';', count - 1) .. placer, 'o', table.concat(replaced, ';'))

for start = 0, count - 1, SLICE do
  local bitfields, versions, meta = {}, {}, {}
  for i = start, math.min(start + SLICE, count) - 1 do
    local x, y, color = struct.unpack('<HHB', packed, i * 5 + 1)
    local index = struct.unpack('<I4', indices, i * 4 + 1)
    local chunk = string.format('%d,%d', math.floor(x / 256), math.floor(y / 256))
    local bitfield = bitfields[chunk] or {}
    bitfields[chunk] = bitfield
    bitfield[#bitfield + 1] = 'SET'
    bitfield[#bitfield + 1] = 'u8'
    bitfield[#bitfield + 1] = '#' .. ((y % 256) * 256 + x % 256)
    bitfield[#bitfield + 1] = color
    versions[chunk] = first + i
    meta[#meta + 1] = index
    meta[#meta + 1] = 'v2,' .. string.format('%d', first + i) .. ',' .. now .. ',' .. tail
  end
  for chunk, bitfield in pairs(bitfields) do
    redis.call('BITFIELD', chunk_prefix .. '{' .. chunk .. '}', unpack(bitfield))
    redis.call('HSET', KEYS[3], chunk, string.format('%d', versions[chunk]))
  end
  redis.call('HSET', KEYS[5], unpack(meta))
end
redis.call('SET', KEYS[2], last_id)
redis.call('PUBLISH', channel, epoch .. ':' .. first_id .. ':' .. now .. ':' .. packed)
return {first, last}
