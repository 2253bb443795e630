// Decisions, newest first. Parameters: $limit (int). Returns: transaction_id, created_at, score, decision, body.
MATCH (d:Decision)
RETURN d.transaction_id AS transaction_id, d.created_at AS created_at, d.score AS score, d.decision AS decision,
       d.body AS body
ORDER BY d.seq DESC
LIMIT $limit
