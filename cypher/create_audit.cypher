// One audit row. Parameters: $id, $at, $actor, $action, $target, $detail (JSON). Returns: nothing.
CREATE (:Audit {id: $id, at: $at, actor: $actor, action: $action, target: $target, detail: $detail})
