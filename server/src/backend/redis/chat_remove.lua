-- Removes one chat message for everyone (docs/redis.md, "Chat").
-- KEYS: 1 the chat stream
-- ARGV: 1 the message's id, 2 the canvas's channel
-- Returns 1 if it was kept (and is now removed, and the removal
-- published), else 0. The stream holds at most CHAT_KEPT entries, so the
-- scan is bounded.
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'i' and fields[i + 1] == ARGV[1] then
      redis.call('XDEL', KEYS[1], entry[1])
      redis.call('PUBLISH', ARGV[2], 'chat-removed:' .. ARGV[1])
      return 1
    end
  end
end
return 0
