-- Placements after a seq, with the epoch and newest seq to judge them by.
-- KEYS: 1 epoch, 2 seq, 3 history
-- ARGV: 1 after this seq, 2 this many placements (fewer if there are not)
-- Returns {epoch or '', newest seq, entries}: the entries holding the
-- placements after ARGV[1], oldest first. An entry holds a batch (ID
-- <last seq>-0, fields f and t, see place.lua) or, as written by earlier
-- versions, one placement (ID <seq>-1, fields x, y, c). Every entry holds
-- at least one placement, so reading no more entries than placements still
-- wanted never reads an entry it does not return.
local epoch = redis.call('GET', KEYS[1]) or ''
local seq = redis.call('GET', KEYS[2]) or '0'
local want = tonumber(ARGV[2])
local entries, got = {}, 0
local from = string.format('%d', tonumber(ARGV[1]) + 1) .. '-0'
while got < want do
  local page = redis.call('XRANGE', KEYS[3], from, '+', 'COUNT', math.min(128, want - got))
  if #page == 0 then
    break
  end
  for _, entry in ipairs(page) do
    entries[#entries + 1] = entry
    local fields = entry[2]
    if fields[1] == 'f' then
      got = got + #fields[4] / 5
    else
      got = got + 1
    end
  end
  from = '(' .. page[#page][1]
end
return {epoch, seq, entries}
