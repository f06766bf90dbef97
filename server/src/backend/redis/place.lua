-- Placements, in order, each accepted or refused on its own; the accepted
-- ones all or nothing (docs/redis.md).
-- KEYS: 1 epoch, 2 seq, 3 chunks (the painted chunks' versions), 4 history,
--       5 meta, 6 frozen, 7 present
--       while any ban may be in force, then for each placement its session's
--       cooldown key, its session key and its client address's budget key
-- ARGV: 1 now (ms), 2 cooldown (ms), 3 history length, 4 channel,
--       5 epoch to start if none, 6 placements per address and window
--       (0: no budget), 7 the budget's window (ms), 8 the bans' key prefix
--       (`<prefix>:ban:`), 9 when to ask for a solved challenge (0 never,
--       1 when an unverified session meets its address's spent budget,
--       2 before any unverified session places), 10 the chunk keys' prefix
--       (`<prefix>:chunk:`), then for each placement its record key
--       (`y * 65536 + x`), color,
--       x, y and placer (`<session handle>,<client address>`)
-- Returns for each placement {ACCEPTED, seq}, {COOLING, ms left} (the
-- session's cooldown, or its address's spent budget), {BANNED, ms left}
-- (the session or its address), {FROZEN, 0}, {NEEDS_CHALLENGE, 0} (a solved
-- challenge needed first) or {SHADOWED, 0} (shadow-banned: told accepted,
-- never placed), flattened into one list. The codes are named below and
-- in `PlaceCode` (redis/store.rs), which refuses any other.
-- A verified session (field `v` of its session hash: it solved a
-- challenge) places on its own cooldown, outside its address's budget.
-- The bans' keys are made here, and only while a ban is in force: declaring
-- them would cost every placement two more keys (the script runs on one
-- Redis, never a cluster). So are the chunks' keys
-- (`<prefix>:chunk:{<cx>,<cy>}`, each hash-tagged by its chunk), which a
-- batch touches a few of: a Cluster would first have to split batches by
-- chunk, and the seq is one for the whole canvas.
-- Every check comes before the first write, so an error cannot leave the
-- batch half-applied. The accepted placements take consecutive seqs and
-- become one history entry (ID <last seq>-0, fields f: first seq, t: the
-- tiles, five bytes each as in a Tiles frame, at: now, p: each tile's
-- placer, `;`-separated, for moderators' rollbacks) and one Pub/Sub message
-- (<epoch>:<first seq>:<now>:<tiles>).
local ACCEPTED, COOLING, BANNED, FROZEN, NEEDS_CHALLENGE, SHADOWED = 0, 1, 2, 3, 4, 5
local now, cooldown, keep, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local budget, window = tonumber(ARGV[6]), tonumber(ARGV[7])
local ban_prefix = ARGV[8]
local challenge = tonumber(ARGV[9])
local chunk_prefix = ARGV[10]
local count = (#KEYS - 7) / 3
-- Without a ban in force anywhere, nobody's bans are looked up.
local bans = redis.call('EXISTS', KEYS[7]) == 1

if redis.call('EXISTS', KEYS[6]) == 1 then
  local results = {}
  for _ = 1, count do
    results[#results + 1] = FROZEN
    results[#results + 1] = 0
  end
  return results
end

local epoch = redis.call('GET', KEYS[1])
if not epoch then
  -- No epoch: a new canvas, or one whose history was lost. Its seqs start
  -- again, so clients must reload (the new epoch tells them), and no
  -- chunk's version may be ahead of them.
  epoch = ARGV[5]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[4])
  for _, chunk in ipairs(redis.call('HKEYS', KEYS[3])) do
    redis.call('HSET', KEYS[3], chunk, 0)
  end
end

local first = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local seq = first - 1
local results, bitfields, versions, meta, tiles, cooling, placers = {}, {}, {}, {}, {}, {}, {}
-- Per address key: placements counted so far (stored and in this batch),
-- and those this batch adds.
local used, spent = {}, {}
for i = 1, count do
  local k, a = 5 + 3 * i, 6 + 5 * i
  local cooldown_key, session_key, address_key = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local index, color, x, y, placer = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  -- A ban's time left (a ban without one, PTTL -1, lasts until lifted);
  -- a shadow ban (value 's') lets the placement look accepted instead.
  local banned, shadowed = 0, false
  if bans then
    local handle, address = string.match(placer, '^([^,]*),(.*)$')
    local keys = {ban_prefix .. 'session:' .. handle, ban_prefix .. 'address:' .. address}
    for _, key in ipairs(keys) do
      local kind = redis.call('GET', key)
      if kind == 's' then
        shadowed = true
      elseif kind then
        local ttl = redis.call('PTTL', key)
        if ttl == -1 then
          ttl = 1
        end
        banned = math.max(banned, ttl)
      end
    end
  end
  if banned > 0 then
    results[#results + 1] = BANNED
    results[#results + 1] = banned
  else
    local left = 0
    if cooldown > 0 then
      if cooling[cooldown_key] then
        left = cooldown -- placed earlier in this batch
      else
        left = redis.call('PTTL', cooldown_key)
      end
    end
    local pretend = left <= 0 and shadowed
    if pretend then
      -- Its cooldown runs as if it had placed, so nothing gives it away.
      if cooldown > 0 then
        cooling[cooldown_key] = true
      end
    end
    local verified, challenged = false, false
    if left <= 0 and not pretend and (budget > 0 or challenge == 2) then
      verified = redis.call('HEXISTS', session_key, 'v') == 1
      challenged = challenge == 2 and not verified
    end
    if left <= 0 and not pretend and not challenged and budget > 0 and not verified then
      if used[address_key] == nil then
        used[address_key] = tonumber(redis.call('GET', address_key) or '0')
      end
      if used[address_key] >= budget then
        if challenge == 1 then
          challenged = true
        else
          left = redis.call('PTTL', address_key)
          if left <= 0 then
            left = window
          end
        end
      end
    end
    if pretend then
      results[#results + 1] = SHADOWED
      results[#results + 1] = 0
    elseif challenged then
      results[#results + 1] = NEEDS_CHALLENGE
      results[#results + 1] = 0
    elseif left > 0 then
      results[#results + 1] = COOLING
      results[#results + 1] = left
    else
      seq = seq + 1
      if cooldown > 0 then
        cooling[cooldown_key] = true
      end
      if budget > 0 and not verified then
        used[address_key] = used[address_key] + 1
        spent[address_key] = (spent[address_key] or 0) + 1
      end
      local name = redis.call('HGET', session_key, 'name') or ''
      local px, py = tonumber(x), tonumber(y)
      local chunk = string.format('%d,%d', math.floor(px / 256), math.floor(py / 256))
      local bitfield = bitfields[chunk] or {}
      bitfields[chunk] = bitfield
      bitfield[#bitfield + 1] = 'SET'
      bitfield[#bitfield + 1] = 'u8'
      bitfield[#bitfield + 1] = '#' .. ((py % 256) * 256 + px % 256)
      bitfield[#bitfield + 1] = color
      versions[chunk] = seq
      meta[#meta + 1] = index
      meta[#meta + 1] = 'v2,' .. string.format('%d', seq) .. ',' .. now .. ',' .. placer .. ',' .. name
      tiles[#tiles + 1] = struct.pack('<HHB', tonumber(x), tonumber(y), tonumber(color))
      placers[#placers + 1] = placer
      results[#results + 1] = ACCEPTED
      results[#results + 1] = seq
    end
  end
end

if seq >= first then
  local packed = table.concat(tiles)
  local first_id, last_id = string.format('%d', first), string.format('%d', seq)
  -- First, as the one write that can be refused (an ID below the stream's
  -- newest, if the seq was tampered with).
  redis.call('XADD', KEYS[4], 'MINID', '~', string.format('%d', math.max(seq - keep, 0)),
    last_id .. '-0', 'f', first_id, 't', packed, 'at', now, 'p', table.concat(placers, ';'))
  redis.call('SET', KEYS[2], last_id)
  for chunk, bitfield in pairs(bitfields) do
    redis.call('BITFIELD', chunk_prefix .. '{' .. chunk .. '}', unpack(bitfield))
    redis.call('HSET', KEYS[3], chunk, string.format('%d', versions[chunk]))
  end
  redis.call('HSET', KEYS[5], unpack(meta))
  -- A fixed window per address, from its first placement.
  for key, n in pairs(spent) do
    redis.call('INCRBY', key, n)
    redis.call('PEXPIRE', key, window, 'NX')
  end
  redis.call('PUBLISH', channel, epoch .. ':' .. first_id .. ':' .. now .. ':' .. packed)
end
for key in pairs(cooling) do
  redis.call('SET', key, '1', 'PX', cooldown)
end
return results
