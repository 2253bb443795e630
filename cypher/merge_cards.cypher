// Card nodes, each once (nodes before relationships).
// Parameters: $ids (list of identifiers). Returns: nothing.
UNWIND $ids AS id
MERGE (:Card {id: id})
