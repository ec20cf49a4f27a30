-- Publish one message to a ratchet_tx hub channel, atomically.
--
-- KEYS[1]  <prefix>:history:<channel>   the stream of kept messages
-- KEYS[2]  <prefix>:meta:<channel>      hash: epoch, seq (last sequence number)
-- ARGV[1]  <prefix>:channel:<channel>   the pub/sub channel
-- ARGV[2]  kind: "t" (text, UTF-8) or "b" (binary)
-- ARGV[3]  the message
-- ARGV[4]  member ids not to deliver to, comma-separated, or "-"
-- ARGV[5]  the publisher's node id, or "-"
-- ARGV[6]  history size (messages kept; 0 keeps none)
-- ARGV[7]  history age, in milliseconds
-- ARGV[8]  how long the epoch and sequence outlive the last message, in ms
--
-- Returns {epoch, sequence}: the message's offset.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = string.format('%x', now)
  redis.call('HSET', KEYS[2], 'epoch', epoch)
  redis.call('DEL', KEYS[1])
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
local size = tonumber(ARGV[6])
if size > 0 then
  redis.call('XADD', KEYS[1], 'MAXLEN', size, '*',
    'n', seq, 't', ARGV[2], 'd', ARGV[3], 'x', ARGV[4], 'o', ARGV[5])
  redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', now - tonumber(ARGV[7])))
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
end
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('PUBLISH', ARGV[1], 'r1 ' .. epoch .. ' ' .. string.format('%d', seq) .. ' '
  .. ARGV[2] .. ' ' .. ARGV[5] .. ' ' .. ARGV[4] .. '\n' .. ARGV[3])
return {epoch, seq}
