// New values of some properties of transactions (a null value removes the property).
// Parameters: $rows (list of {transaction_id, props}). Returns: nothing.
UNWIND $rows AS row
MATCH (t:Transaction {transaction_id: row.transaction_id})
SET t += row.props
