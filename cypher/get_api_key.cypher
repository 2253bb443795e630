// An API key by hash. Parameters: $key_hash. Returns: id, name, scope, key_hash, revoked_at.
MATCH (k:ApiKey {key_hash: $key_hash})
RETURN k.id AS id, k.name AS name, k.scope AS scope, k.key_hash AS key_hash, k.revoked_at AS revoked_at
