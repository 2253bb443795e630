// Every model, oldest first. Parameters: none. Returns: version, created_at, status, meta, sha256.
MATCH (m:Model)
RETURN m.version AS version, m.created_at AS created_at, m.status AS status, m.meta AS meta, m.sha256 AS sha256
ORDER BY m.created_at
