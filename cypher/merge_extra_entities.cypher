// Nodes of extra identifier types (mapped columns beyond card, device, ip, merchant), each once.
// Parameters: $rows (list of {type, id}). Returns: nothing.
UNWIND $rows AS row
MERGE (:Entity {type: row.type, id: row.id})
