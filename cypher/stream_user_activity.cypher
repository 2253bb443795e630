// Per user: first and last transaction time, count and total amount.
// Parameters: $user_ids (list, or null for every user). Returns: user_id, first_ts, last_ts, n_tx, amount.
MATCH (u:User)
WHERE $user_ids IS NULL OR u.id IN $user_ids
MATCH (u)-[:MADE]->(t:Transaction)
RETURN u.id AS user_id, min(t.ts) AS first_ts, max(t.ts) AS last_ts, count(t) AS n_tx, sum(t.amount) AS amount
