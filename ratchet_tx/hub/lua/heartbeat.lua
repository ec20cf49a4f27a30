-- Keep a ratchet_tx hub node alive for ARGV[1] more milliseconds.
--
-- KEYS[1]  <prefix>:node:<node id>
--
-- Returns 1 when the key had gone (expired, or Redis restarted): the node
-- must then register its members again.
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1
