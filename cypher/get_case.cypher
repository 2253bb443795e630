// One case and its notes, oldest note first. Parameters: $id.
// Returns: id, kind, ref, title, status, assignee, created_at, updated_at, created_by, notes (list of maps).
MATCH (c:Case {id: $id})
OPTIONAL MATCH (n:Note {case_id: $id})
WITH c, n ORDER BY n.id
RETURN c.id AS id, c.kind AS kind, c.ref AS ref, c.title AS title, c.status AS status, c.assignee AS assignee,
       c.created_at AS created_at, c.updated_at AS updated_at, c.created_by AS created_by,
       collect(n {.at, .author, .text}) AS notes
