// Rings by score, best first. Parameters: $status (or null for all), $limit.
// Returns: body, status, merged_into, created_at, updated_at.
MATCH (r:Ring)
WHERE $status IS NULL OR r.status = $status
RETURN r.body AS body, r.status AS status, r.merged_into AS merged_into, r.created_at AS created_at,
       r.updated_at AS updated_at
ORDER BY r.score DESC
LIMIT $limit
