// Change a case's status and/or assignee (null leaves a field; '' clears the assignee).
// Parameters: $id, $status, $assignee, $at. Returns: found (bool).
OPTIONAL MATCH (c:Case {id: $id})
FOREACH (x IN CASE WHEN c IS NULL THEN [] ELSE [c] END |
  SET x.status = coalesce($status, x.status),
      x.assignee = CASE WHEN $assignee IS NULL THEN x.assignee WHEN $assignee = '' THEN null ELSE $assignee END,
      x.updated_at = CASE WHEN $status IS NULL AND $assignee IS NULL THEN x.updated_at ELSE $at END)
RETURN c IS NOT NULL AS found
