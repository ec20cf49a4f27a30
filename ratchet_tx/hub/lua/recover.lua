-- What a ratchet_tx hub channel published after an offset.
--
-- KEYS[1]  <prefix>:history:<channel>
-- KEYS[2]  <prefix>:meta:<channel>
-- ARGV[1]  the offset's epoch
-- ARGV[2]  the offset's sequence number
-- ARGV[3]  the most messages to return
-- ARGV[4]  history age, in milliseconds
--
-- Returns {epoch, last sequence, entries}, newest entry first, each entry
-- {sequence, kind, message, exclude}; epoch is nil when the channel has no
-- history at all.  For another epoch, every message of this one is missed.
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'seq')
local epoch = meta[1]
if not epoch then return {false, 0, {}} end
local last = tonumber(meta[2] or '0')
local since = tonumber(ARGV[2])
if epoch ~= ARGV[1] then since = 0 end
local entries = {}
local needed = math.min(last - since, tonumber(ARGV[3]))
if needed > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', now - tonumber(ARGV[4])))
  local rows = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', needed)
  for _, row in ipairs(rows) do
    local f = {}
    local fields = row[2]
    for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
    if tonumber(f['n']) > since then
      entries[#entries + 1] = {f['n'], f['t'], f['d'], f['x']}
    end
  end
end
return {epoch, last, entries}
