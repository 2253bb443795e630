// User nodes, each once (nodes before relationships).
// Parameters: $ids (list of user ids). Returns: nothing.
UNWIND $ids AS id
MERGE (:User {id: id})
