// New transactions, grouped by user: one index lookup per user, then (:User)-[:MADE]->(:Transaction).
// Properties are listed one by one (a null one is simply not set): `SET t = row` made the planner put an
// Eager (materialise every row first) between the lookup and the CREATE, which cost time and memory.
// Parameters: $groups (list of {user_id, rows: [transaction property maps]}). Returns: nothing.
UNWIND $groups AS g
MATCH (u:User {id: g.user_id})
UNWIND g.rows AS row
CREATE (u)-[:MADE]->(:Transaction {transaction_id: row.transaction_id, seq: row.seq, ts: row.ts,
        user_id: row.user_id, amount: row.amount, card_id: row.card_id, device_id: row.device_id, ip: row.ip,
        merchant_id: row.merchant_id, currency: row.currency, country: row.country, is_fraud: row.is_fraud,
        labelled_at: row.labelled_at, extra: row.extra, attrs: row.attrs})
