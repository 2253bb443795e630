// Transactions after a sequence number, in sequence order (rebuilding the Python engine, replays).
// Parameters: $after_seq (int), $limit (int). Returns: the TX_COLUMNS (seq, transaction_id, ts, user_id,
// amount, card_id, device_id, ip, merchant_id, currency, country, is_fraud, labelled_at, extra, counterparty_id,
// fraud_type, auth_result, decline_reason, attrs).
MATCH (t:Transaction)
WHERE t.seq > $after_seq
RETURN t.seq AS seq, t.transaction_id AS transaction_id, t.ts AS ts, t.user_id AS user_id, t.amount AS amount,
       t.card_id AS card_id, t.device_id AS device_id, t.ip AS ip, t.merchant_id AS merchant_id,
       t.currency AS currency, t.country AS country, t.is_fraud AS is_fraud, t.labelled_at AS labelled_at,
       t.extra AS extra, t.counterparty_id AS counterparty_id, t.fraud_type AS fraud_type,
       t.auth_result AS auth_result, t.decline_reason AS decline_reason, t.attrs AS attrs
ORDER BY t.seq
LIMIT $limit
