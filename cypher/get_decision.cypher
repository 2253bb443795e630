// The decision of one transaction. Parameters: $transaction_id. Returns: body (JSON text).
MATCH (d:Decision {transaction_id: $transaction_id})
RETURN d.body AS body
