// One decision record. Parameters: $seq, $transaction_id, $created_at, $score, $decision, $body (JSON).
// Returns: nothing.
CREATE (:Decision {seq: $seq, transaction_id: $transaction_id, created_at: $created_at, score: $score,
                   decision: $decision, body: $body})
