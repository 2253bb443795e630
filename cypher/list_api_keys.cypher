// API keys without their hashes. Parameters: none. Returns: id, name, scope, created_at, revoked_at.
MATCH (k:ApiKey)
RETURN k.id AS id, k.name AS name, k.scope AS scope, k.created_at AS created_at, k.revoked_at AS revoked_at
ORDER BY k.id
