// Every transaction of the given users, in sequence order (ring detection's narrow read).
// Parameters: $user_ids (list). Returns: the TX_COLUMNS, as stream_transactions.cypher.
UNWIND $user_ids AS id
MATCH (:User {id: id})-[:MADE]->(t:Transaction)
RETURN t.seq AS seq, t.transaction_id AS transaction_id, t.ts AS ts, t.user_id AS user_id, t.amount AS amount,
       t.card_id AS card_id, t.device_id AS device_id, t.ip AS ip, t.merchant_id AS merchant_id,
       t.currency AS currency, t.country AS country, t.is_fraud AS is_fraud, t.labelled_at AS labelled_at,
       t.extra AS extra, t.counterparty_id AS counterparty_id, t.fraud_type AS fraud_type,
       t.auth_result AS auth_result, t.decline_reason AS decline_reason, t.attrs AS attrs
ORDER BY seq
