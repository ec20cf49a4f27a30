-- The live members of a ratchet_tx hub channel.
--
-- KEYS[1]  <prefix>:presence:<channel>   hash: member id -> member JSON
-- ARGV[1]  <prefix>:node:                the prefix of the node keys
--
-- A member id is "<node>.<connection>"; a member whose node key has
-- expired (its process is gone) is removed.  Returns the flat list
-- member, JSON, member, JSON, ...
local all = redis.call('HGETALL', KEYS[1])
local alive = {}
local out = {}
for i = 1, #all, 2 do
  local member = all[i]
  local node = string.match(member, '^(.*)%.') or member
  local ok = alive[node]
  if ok == nil then
    ok = redis.call('EXISTS', ARGV[1] .. node) == 1
    alive[node] = ok
  end
  if ok then
    out[#out + 1] = member
    out[#out + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[1], member)
  end
end
return out
