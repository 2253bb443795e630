// Transfers whose payer and payee are both among the given users, oldest first.
// Parameters: $user_ids, $limit. Returns: transaction_id, payer, payee, amount, currency, ts.
MATCH (u:User)-[:MADE]->(t:Transaction)
WHERE u.id IN $user_ids AND t.counterparty_id IN $user_ids
RETURN t.transaction_id AS transaction_id, t.user_id AS payer, t.counterparty_id AS payee, t.amount AS amount,
       t.currency AS currency, t.ts AS ts
ORDER BY ts, transaction_id
LIMIT $limit
