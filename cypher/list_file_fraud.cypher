// The file label (is_fraud) of some transactions. Parameters: $ids. Returns: transaction_id, is_fraud.
UNWIND $ids AS id
MATCH (t:Transaction {transaction_id: id})
RETURN t.transaction_id AS transaction_id, t.is_fraud AS is_fraud
