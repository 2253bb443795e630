// New text properties of records found by erase_list_texts, in the same transaction.
// Parameters: $rows (list of {node (element id), props}). Returns: nothing.
UNWIND $rows AS row
MATCH (n)
WHERE elementId(n) = row.node
SET n += row.props
