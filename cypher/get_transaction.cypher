// One transaction by id. Parameters: $transaction_id. Returns: t (its properties, a map).
MATCH (t:Transaction {transaction_id: $transaction_id})
RETURN properties(t) AS t
