// One user's transfers (transactions with a counterparty_id), both ways: one row per payer and payee, most
// recent first. A self-transfer is counted once (as sent).
// Parameters: $user_id, $limit. Returns: payer, payee, n, amount, first_seen, last_seen.
CALL () {
  MATCH (:User {id: $user_id})-[:MADE]->(t:Transaction)
  WHERE t.counterparty_id IS NOT NULL
  RETURN t
  UNION ALL
  MATCH (t:Transaction {counterparty_id: $user_id})
  WHERE t.user_id <> $user_id
  RETURN t
}
WITH t.user_id AS payer, t.counterparty_id AS payee, count(*) AS n, sum(t.amount) AS amount,
     min(t.ts) AS first_seen, max(t.ts) AS last_seen
RETURN payer, payee, n, amount, first_seen, last_seen
ORDER BY last_seen DESC, payer, payee
LIMIT $limit
