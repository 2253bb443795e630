// A case. Parameters: $id, $kind, $ref, $title, $assignee, $at, $created_by. Returns: nothing.
CREATE (:Case {id: $id, kind: $kind, ref: $ref, title: $title, status: 'open', assignee: $assignee,
               created_at: $at, updated_at: $at, created_by: $created_by})
