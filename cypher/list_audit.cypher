// Audit rows, newest first. Parameters: $target (or null for all), $limit.
// Returns: at, actor, action, target, detail.
MATCH (a:Audit)
WHERE $target IS NULL OR a.target = $target
RETURN a.at AS at, a.actor AS actor, a.action AS action, a.target AS target, a.detail AS detail
ORDER BY a.id DESC
LIMIT $limit
