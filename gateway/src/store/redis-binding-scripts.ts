/**
 * The Lua scripts of redis-binding-store.ts. Each runs atomically in Redis: it changes the AOR
 * hash (`<prefix>aor:<aor>`, field = bindingKey) and the expiry sorted set (`<prefix>exp`,
 * member `<aor>\n<key>`, score = expiresAt in unix seconds) together and PUBLISHes the change
 * only when it made one, so every node hears of each change once. The sweep computes its hash
 * keys (single Redis, not Redis Cluster). Replies: 1 (or a count) when something changed, 0
 * when not.
 */

/** Upsert. KEYS: hash, zset. ARGV: field, json, score, member, channel, message, mode ('force' | 'newer': only over a row lapsing earlier). */
export const UPSERT = `
local s = redis.call('ZSCORE', KEYS[2], ARGV[4])
if ARGV[7] == 'newer' and s and tonumber(s) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1`

/** Compare-and-delete: only if the field still holds `json`. KEYS: hash, zset. ARGV: field, json, member, channel, message. */
export const DELETE = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`

/** Expiry: only if the row is still due (score <= now), so once across nodes. KEYS: hash, zset. ARGV: field, member, now, channel, message. */
export const EXPIRE = `
local s = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not s or tonumber(s) > tonumber(ARGV[3]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`

/** Every row of an AOR. KEYS: hash, zset. ARGV: aor, channel, message. */
export const DELETE_AOR = `
local fields = redis.call('HKEYS', KEYS[1])
for _, f in ipairs(fields) do redis.call('ZREM', KEYS[2], ARGV[1] .. '\\n' .. f) end
redis.call('DEL', KEYS[1])
if #fields > 0 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return #fields`

/** The sweep's batch size (its LIMIT). */
export const SWEEP_BATCH = 500

/** Rows lapsed at `now`, at most SWEEP_BATCH a call, one `x` message each. KEYS: zset. ARGV: now, hash key prefix, channel, node. */
export const SWEEP = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ${SWEEP_BATCH})
for _, m in ipairs(due) do
  local i = string.find(m, '\\n', 1, true)
  if i then
    local aor = string.sub(m, 1, i - 1)
    local key = string.sub(m, i + 1)
    redis.call('HDEL', ARGV[2] .. aor, key)
    redis.call('PUBLISH', ARGV[3], cjson.encode({op = 'x', n = ARGV[4], aor = aor, key = key}))
  end
  redis.call('ZREM', KEYS[1], m)
end
return #due`

/** Every script, for SCRIPT LOAD. */
export const SCRIPTS: readonly string[] = [UPSERT, DELETE, EXPIRE, DELETE_AOR, SWEEP]
