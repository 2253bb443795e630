// Stored transactions among the given ids (for duplicates, label replays and conflicts).
// Parameters: $ids (list of transaction ids). Returns: t (the transaction's properties, a map).
UNWIND $ids AS id
MATCH (t:Transaction {transaction_id: id})
RETURN properties(t) AS t
