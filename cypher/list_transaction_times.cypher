// The times of the stored transactions among some ids. Parameters: $ids (list of transaction ids).
// Returns: transaction_id, ts.
MATCH (t:Transaction) WHERE t.transaction_id IN $ids
RETURN t.transaction_id AS transaction_id, t.ts AS ts
