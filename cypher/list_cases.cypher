// Cases, most recently updated first. Parameters: $status (or null), $limit.
// Returns: id, kind, ref, title, status, assignee, created_at, updated_at.
MATCH (c:Case)
WHERE $status IS NULL OR c.status = $status
RETURN c.id AS id, c.kind AS kind, c.ref AS ref, c.title AS title, c.status AS status, c.assignee AS assignee,
       c.created_at AS created_at, c.updated_at AS updated_at
ORDER BY c.updated_at DESC, c.id DESC
LIMIT $limit
