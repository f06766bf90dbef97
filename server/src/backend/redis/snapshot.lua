-- The canvas with the epoch and seq it is current to, read atomically.
-- KEYS: 1 epoch, 2 seq, 3 chunks (field `<cx>,<cy>` -> the chunk's
--       version), 4 history, 5 the whole-canvas pixels of versions before
--       chunks (one palette index per pixel, row by row), 6 the pixel
--       records, 7 the canvas's size if moderators enlarged it (`<w>,<h>`)
-- ARGV: 1 epoch to start if none, 2 the chunk keys' prefix
--       (`<prefix>:chunk:`), 3 the canvas's width, 4 its height
-- Returns {epoch, seq, size (`<w>,<h>` or ''), then for each painted
-- chunk: `<cx>,<cy>`, version, its 65,536 pixels}.
-- A canvas kept by an earlier version (KEYS[5] and no chunks yet) is cut
-- into chunks first, once, and its pixel records, keyed `y * width + x`
-- then, are keyed `y * 65536 + x`; the old pixels are kept, renamed with
-- the suffix `:before-chunks`, for an operator to delete.
local chunk_prefix = ARGV[2]
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[4])
  for _, chunk in ipairs(redis.call('HKEYS', KEYS[3])) do
    redis.call('HSET', KEYS[3], chunk, 0)
  end
end
local seq = redis.call('GET', KEYS[2]) or '0'

if redis.call('EXISTS', KEYS[5]) == 1 and redis.call('EXISTS', KEYS[3]) == 0 then
  local whole = redis.call('GET', KEYS[5])
  local width, height = tonumber(ARGV[3]), tonumber(ARGV[4])
  local blank = string.rep('\0', 256)
  for cy = 0, math.ceil(height / 256) - 1 do
    for cx = 0, math.ceil(width / 256) - 1 do
      local rows, x0 = {}, cx * 256
      local run = math.min(256, width - x0)
      for y = cy * 256, cy * 256 + 255 do
        local row = ''
        if y < height then
          local from = y * width + x0 + 1
          row = string.sub(whole, from, from + run - 1)
        end
        rows[#rows + 1] = row .. string.sub(blank, 1, 256 - #row)
      end
      local pixels = table.concat(rows)
      if string.find(pixels, '[^%z]') then
        local chunk = string.format('%d,%d', cx, cy)
        redis.call('SET', chunk_prefix .. '{' .. chunk .. '}', pixels)
        redis.call('HSET', KEYS[3], chunk, seq)
      end
    end
  end
  redis.call('RENAME', KEYS[5], KEYS[5] .. ':before-chunks')
  local records = redis.call('HGETALL', KEYS[6])
  if #records > 0 then
    local rekeyed = KEYS[6] .. ':rekeyed'
    redis.call('DEL', rekeyed)
    for i = 1, #records, 2 do
      local index = tonumber(records[i])
      local key = math.floor(index / width) * 65536 + index % width
      redis.call('HSET', rekeyed, string.format('%d', key), records[i + 1])
    end
    redis.call('RENAME', rekeyed, KEYS[6])
  end
end

local result = {epoch, seq, redis.call('GET', KEYS[7]) or ''}
local versions = redis.call('HGETALL', KEYS[3])
for i = 1, #versions, 2 do
  local chunk = versions[i]
  result[#result + 1] = chunk
  result[#result + 1] = versions[i + 1]
  result[#result + 1] = redis.call('GET', chunk_prefix .. '{' .. chunk .. '}') or ''
end
return result
