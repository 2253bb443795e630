// Revoke the active keys of one name. Parameters: $name, $at. Returns: n (how many were revoked).
MATCH (k:ApiKey {name: $name})
WHERE k.revoked_at IS NULL
SET k.revoked_at = $at
RETURN count(k) AS n
