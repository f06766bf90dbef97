-- Archives the canvas at a seq, keeping the newest few within a byte budget
-- (the newest always stays). A canvas sent whole is archived as one PNG; a
-- canvas served by chunk as the list of its painted chunks, each naming the
-- archived canvas its PNG was stored with, plus the PNGs of the chunks that
-- changed. A chunk's PNG is held by consecutive archived canvases from the
-- one it was stored with, so when the oldest is dropped, its PNGs that the
-- next one does not hold are held by none and go too.
-- KEYS: 1 the index (sorted set, score and member the seq), 2 the whole
--       PNGs (hash seq -> PNG), 3 when each was taken (hash seq -> unix ms),
--       4 the PNGs' total size in bytes, 5 the chunk lists (hash seq ->
--       'cx,cy,version,stored_with;' entries), 6 the chunks' PNGs (hash
--       'cx,cy,stored_with' -> PNG)
-- ARGV: 1 seq, 2 unix ms, 3 how many to keep, 4 how many bytes, 5 the whole
--       PNG or '', 6 the chunk list or '', then pairs of a chunk PNG's
--       field and the PNG
-- Returns 1, or 0 (and archives nothing) if the chunk list names a PNG
-- the store no longer has.
local function held(list)
  local fields = {}
  if list then
    for cx, cy, _, stored in string.gmatch(list, '(%d+),(%d+),(%d+),(%d+);') do
      fields[cx .. ',' .. cy .. ',' .. stored] = true
    end
  end
  return fields
end

local seq = ARGV[1]
if ARGV[6] ~= '' then
  for field in pairs(held(ARGV[6])) do
    local stored_here = string.match(field, ',(%d+)$') == seq
    if not stored_here and redis.call('HEXISTS', KEYS[6], field) == 0 then
      return 0
    end
  end
end

local total = redis.call('GET', KEYS[4])
if total then
  total = tonumber(total)
else
  -- Archived before the total was kept: count it once.
  total = 0
  for _, archived in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    total = total + redis.call('HSTRLEN', KEYS[2], archived)
  end
end
redis.call('ZADD', KEYS[1], seq, seq)
redis.call('HSET', KEYS[3], seq, ARGV[2])
if ARGV[5] ~= '' then
  total = total - redis.call('HSTRLEN', KEYS[2], seq) + #ARGV[5]
  redis.call('HSET', KEYS[2], seq, ARGV[5])
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[5], seq, ARGV[6])
  for i = 7, #ARGV, 2 do
    total = total - redis.call('HSTRLEN', KEYS[6], ARGV[i]) + #ARGV[i + 1]
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
  end
end

local count = redis.call('ZCARD', KEYS[1])
local keep, budget = tonumber(ARGV[3]), tonumber(ARGV[4])
while count > 1 and (count > keep or total > budget) do
  local oldest = redis.call('ZPOPMIN', KEYS[1])[1]
  total = total - redis.call('HSTRLEN', KEYS[2], oldest)
  redis.call('HDEL', KEYS[2], oldest)
  redis.call('HDEL', KEYS[3], oldest)
  local list = redis.call('HGET', KEYS[5], oldest)
  if list then
    redis.call('HDEL', KEYS[5], oldest)
    local following = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
    local still = held(following and redis.call('HGET', KEYS[5], following))
    for field in pairs(held(list)) do
      if not still[field] then
        total = total - redis.call('HSTRLEN', KEYS[6], field)
        redis.call('HDEL', KEYS[6], field)
      end
    end
  end
  count = count - 1
end
redis.call('SET', KEYS[4], total)
return 1
