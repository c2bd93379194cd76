"""The Lua scripts of the Redis backplane: everything that must happen at once, in one round trip.

Keys of one user share the hash tag `{u:<user_id>}`, so a Redis Cluster keeps them, and the
user's sharded pub/sub channel, on one shard: `<prefix>:{u:<id>}:meta` (a hash: `epoch`, `seq`,
`seen`), `<prefix>:{u:<id>}:log` (a stream whose entry ids are `<seq>-0`, fields `d` = the
envelope, `t` = Redis time in seconds), `<prefix>:{u:<id>}:revoked` (a string: `<before> <reason>`,
tokens issued before `before` are refused; it expires with the longest token lifetime) and the
channel `<prefix>:{u:<id>}:wake` (`<seq> <epoch> <envelope>`, or `!<reason>`: close the user's
connections).
"""

from __future__ import annotations

__all__ = ["DISCONNECT", "HISTORY", "PUBLISH", "SEEN"]

PUBLISH = """
-- KEYS: meta, log, wake. ARGV: head, tail, new epoch, limits ("max entries max bytes log-ttl meta-ttl").
-- Allocates the next seq (starting a new epoch when the user's state is gone), renders the
-- envelope, appends it to the bounded log, wakes the subscribers; returns {seq, epoch}.
local meta, log, wake = KEYS[1], KEYS[2], KEYS[3]
local maxlen, maxbytes, log_ttl, meta_ttl = string.match(ARGV[4], '(%d+) (%d+) (%d+) (%d+)')
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = ARGV[3]
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoch', epoch)
end
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local data = ARGV[1] .. seq .. ',"epoch":"' .. epoch .. '"' .. ARGV[2]
maxlen = tonumber(maxlen)
local by_bytes = math.max(1, math.floor(tonumber(maxbytes) / #data))
if by_bytes < maxlen then maxlen = by_bytes end
redis.call('XADD', log, 'MAXLEN', maxlen, seq .. '-0', 'd', data, 't', redis.call('TIME')[1])
redis.call('EXPIRE', log, log_ttl)
redis.call('EXPIRE', meta, meta_ttl)
redis.call('SPUBLISH', wake, seq .. ' ' .. epoch .. ' ' .. data)
return {seq, epoch}
"""

HISTORY = """
-- KEYS: meta, log. ARGV: first seq to read ('seen' for the one after the seen mark), max count,
-- and optionally an epoch ('' for none) and a seq: read from the lower of the seen mark and that
-- seq (from the start if the epoch is not the user's any more).
-- Returns {epoch or false, latest seq, seen mark, entries, Redis time in seconds}.
local state = redis.call('HMGET', KEYS[1], 'epoch', 'seq', 'seen')
local first = ARGV[1]
if first == 'seen' then
  local after = tonumber(state[3] or '0')
  if ARGV[3] then
    if ARGV[3] == (state[1] or '') then after = math.min(after, tonumber(ARGV[4])) else after = 0 end
  end
  first = tostring(after + 1)
end
local entries = redis.call('XRANGE', KEYS[2], first .. '-0', '+', 'COUNT', ARGV[2])
return {state[1] or false, state[2] or '0', state[3] or '0', entries, redis.call('TIME')[1]}
"""

SEEN = """
-- KEYS: meta. ARGV: seq, epoch. Raises the seen mark (envelopes written to some connection).
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then
  local seen = tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
  if tonumber(ARGV[1]) > seen then redis.call('HSET', KEYS[1], 'seen', ARGV[1]) end
end
return 0
"""

DISCONNECT = """
-- KEYS: revoked, wake. ARGV: revocation ('<before> <reason>', or '' for none), its ttl in seconds, reason.
-- Keeps the later of the stored and the new revocation, then tells every process holding the
-- user's connections to close them; returns how many processes were told.
if ARGV[1] ~= '' then
  local kept = redis.call('GET', KEYS[1])
  local kept_before = kept and tonumber(string.match(kept, '^(%S+)'))
  if not kept_before or tonumber(string.match(ARGV[1], '^(%S+)')) >= kept_before then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  end
end
return redis.call('SPUBLISH', KEYS[2], '!' .. ARGV[3])
"""
