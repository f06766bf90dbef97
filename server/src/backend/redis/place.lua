-- Placements, in order, each accepted or refused on its own; the accepted
-- ones all or nothing (docs/redis.md).
-- KEYS: 1 epoch, 2 seq, 3 chunks (the painted chunks' versions), 4 history,
--       5 meta, 6 frozen, 7 present
--       while any ban may be in force, then for each placement its session's
--       cooldown key, its session key, its client address's budget key and
--       its session's undo key
-- ARGV: 1 now (ms), 2 cooldown (ms), 3 history length, 4 channel,
--       5 epoch to start if none, 6 placements per address and window
--       (0: no budget), 7 the budget's window (ms), 8 the bans' key prefix
--       (`<prefix>:ban:`), 9 when to ask for a solved challenge (0 never,
--       1 when an unverified session meets its address's spent budget,
--       2 before any unverified session places), 10 the chunk keys' prefix
--       (`<prefix>:chunk:`), 11 the charges a session holds at most, 12 how
--       long a placement may be undone (ms, 0 never), then for each
--       placement its record key (`y * 65536 + x`), color (`u`: undo the
--       session's last placement; the record key, x and y are then unused),
--       x, y and placer (`<session handle>,<client address>`)
-- Returns for each placement {ACCEPTED, seq, refill}, {COOLING, ms left,
-- refill} (the session's charges, or its address's spent budget),
-- {BANNED, ms left, 0} (the session or its address), {FROZEN, 0, 0},
-- {NEEDS_CHALLENGE, 0, 0} (a solved challenge needed first), {SHADOWED, 0,
-- refill} (shadow-banned: told accepted, never placed) or {NOTHING_TO_UNDO,
-- 0, 0}, flattened into one list; `refill` is how long until the session's
-- charges are all back (ms). The codes are named below and in `PlaceCode`
-- (redis/store.rs), which refuses any other.
-- Charges: a session's cooldown key lives until its pool is full again,
-- so its time to live is the refill. A placement needs it to be at most
-- (charges - 1) cooldowns and adds one; an undo takes one off. With one
-- charge that is a plain cooldown.
-- Undo: each placement leaves `<record key>,<x>,<y>,<color it replaced>,
-- <seq>` under its session's undo key for the undo time. An undo puts that
-- color back if the pixel's record still has that seq (nobody placed
-- since), and removes the key.
-- Leaderboards: the history entry names, for each tile, the placer whose
-- pixel it took (`o`, `-` for none), from which `fold.lua` counts the
-- boards (docs/redis.md).
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
local ACCEPTED, COOLING, BANNED, FROZEN, NEEDS_CHALLENGE, SHADOWED, NOTHING_TO_UNDO = 0, 1, 2, 3, 4, 5, 6
local now, cooldown, keep, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local budget, window = tonumber(ARGV[6]), tonumber(ARGV[7])
local ban_prefix = ARGV[8]
local challenge = tonumber(ARGV[9])
local chunk_prefix = ARGV[10]
local reserve = (tonumber(ARGV[11]) - 1) * cooldown
local undo_ms = tonumber(ARGV[12])
local count = (#KEYS - 7) / 4
-- Without a ban in force anywhere, nobody's bans are looked up.
local bans = redis.call('EXISTS', KEYS[7]) == 1

-- A record's placer: the session handle in `v2,<seq>,<at>,<handle>,…`.
local function owner(record)
  if record then
    local handle = string.match(record, '^v2,%d+,%d+,(%x+),')
    if handle and #handle == 16 then
      return handle
    end
  end
  return nil
end

-- Whose pixel each placement (its placer and record key, in order, and
-- the record it replaced) takes: the placer before it, `-` for none. The
-- history entry keeps them, and the boards are counted from it later
-- (docs/redis.md, "Leaderboards").
local function replaced_owners(placers, indices, before)
  local owners, replaced = {}, {}
  for i, placer in ipairs(placers) do
    local index = indices[i]
    local previous = owners[index]
    if previous == nil then
      previous = owner(before[i]) or '-'
    end
    replaced[i] = previous
    -- A player's placer starts with its 16-digit handle.
    owners[index] = string.sub(placer, 1, 16)
  end
  return table.concat(replaced, ';')
end

if redis.call('EXISTS', KEYS[6]) == 1 then
  local results = {}
  for _ = 1, count do
    results[#results + 1] = FROZEN
    results[#results + 1] = 0
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
local results, bitfields, versions, meta, tiles, placers, indices = {}, {}, {}, {}, {}, {}, {}
-- Per cooldown key: how long until the session's pool is full (ms), as
-- this batch leaves it, and whether the batch changed it.
local refills, refilled = {}, {}
local function refill_of(key)
  if refills[key] == nil then
    refills[key] = math.max(redis.call('PTTL', key), 0)
  end
  return refills[key]
end
-- Per undo key: the session's last accepted tile in this batch (its
-- pixel, seq, and its place in its chunk's BITFIELD), or false once an
-- undo used it up. Per record key: placed on in this batch.
local undoable, touched = {}, {}
-- The color each accepted tile replaced, once the chunks are written.
local replaced = {}
-- Per address key: placements counted so far (stored and in this batch),
-- and those this batch adds.
local used, spent = {}, {}

local function result(code, value, refill)
  results[#results + 1] = code
  results[#results + 1] = value
  results[#results + 1] = refill
end

for i = 1, count do
  local k, a = 4 + 4 * i, 8 + 5 * i
  local cooldown_key, session_key, address_key, undo_key = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local index, color, x, y, placer = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local undo, accepted = color == 'u', false
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
    result(BANNED, banned, 0)
  elseif undo then
    -- The session's last placement, if still undoable and nobody placed
    -- on its pixel since (in the store, or earlier in this batch).
    local last = false
    if not shadowed and undoable[undo_key] == nil then
      last = redis.call('GET', undo_key)
    end
    local last_index, lx, ly, previous, last_seq
    if last then
      last_index, lx, ly, previous, last_seq = string.match(last, '^(%d+),(%d+),(%d+),(%d+),(%d+)$')
    end
    local record = last_index and not touched[last_index] and redis.call('HGET', KEYS[5], last_index)
    if record and string.match(record, '^v2,(%d+),') == last_seq then
      index, color, x, y = last_index, previous, lx, ly
      if cooldown > 0 then
        refills[cooldown_key] = math.max(refill_of(cooldown_key) - cooldown, 0)
        refilled[cooldown_key] = true
      end
      undoable[undo_key] = false
      accepted = true
    else
      result(NOTHING_TO_UNDO, 0, 0)
    end
  else
    local left = 0
    if cooldown > 0 then
      left = refill_of(cooldown_key) - reserve
    end
    local pretend = left <= 0 and shadowed
    if pretend then
      -- Its charges run as if it had placed, so nothing gives it away.
      if cooldown > 0 then
        refills[cooldown_key] = refill_of(cooldown_key) + cooldown
        refilled[cooldown_key] = true
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
      result(SHADOWED, 0, refills[cooldown_key] or 0)
    elseif challenged then
      result(NEEDS_CHALLENGE, 0, 0)
    elseif left > 0 then
      result(COOLING, left, cooldown > 0 and refill_of(cooldown_key) or 0)
    else
      accepted = true
      if cooldown > 0 then
        refills[cooldown_key] = refill_of(cooldown_key) + cooldown
        refilled[cooldown_key] = true
      end
      if budget > 0 and not verified then
        used[address_key] = used[address_key] + 1
        spent[address_key] = (spent[address_key] or 0) + 1
      end
    end
  end
  if accepted then
    -- A tile, or an undo's.
    seq = seq + 1
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
    touched[index] = true
    meta[#meta + 1] = index
    meta[#meta + 1] = 'v2,' .. string.format('%d', seq) .. ',' .. now .. ',' .. placer .. ',' .. name
    tiles[#tiles + 1] = struct.pack('<HHB', px, py, tonumber(color))
    placers[#placers + 1] = placer
    indices[#indices + 1] = index
    if not undo and undo_ms > 0 then
      undoable[undo_key] = {index = index, x = x, y = y, chunk = chunk, slot = #bitfield / 4,
        seq = string.format('%d', seq)}
    end
    result(ACCEPTED, seq, refills[cooldown_key] or 0)
  end
end

if seq >= first then
  local packed = table.concat(tiles)
  local first_id, last_id = string.format('%d', first), string.format('%d', seq)
  -- The pixels' previous placers, before their records are replaced.
  local before = redis.call('HMGET', KEYS[5], unpack(indices))
  -- First, as the one write that can be refused (an ID below the stream's
  -- newest, if the seq was tampered with).
  redis.call('XADD', KEYS[4], 'MINID', '~', string.format('%d', math.max(seq - keep, 0)),
    last_id .. '-0', 'f', first_id, 't', packed, 'at', now, 'p', table.concat(placers, ';'),
    'o', replaced_owners(placers, indices, before))
  redis.call('SET', KEYS[2], last_id)
  for chunk, bitfield in pairs(bitfields) do
    -- BITFIELD SET answers the values it replaced, in order.
    replaced[chunk] = redis.call('BITFIELD', chunk_prefix .. '{' .. chunk .. '}', unpack(bitfield))
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
for key in pairs(refilled) do
  if refills[key] > 0 then
    redis.call('SET', key, '1', 'PX', refills[key])
  else
    redis.call('DEL', key)
  end
end
for key, last in pairs(undoable) do
  if last then
    local previous = replaced[last.chunk][last.slot]
    redis.call('SET', key, table.concat({last.index, last.x, last.y, previous, last.seq}, ','), 'PX', undo_ms)
  else
    redis.call('DEL', key)
  end
end
return results
