// Per (merchant, currency): count, sum of log(amount) (amounts below 0.01 count as 0.01), first time.
// Parameters: $sample_every (int: only transactions whose seq is a multiple of it). Returns: merchant_id, currency, n, sum_log_amount, first_ts.
MATCH (t:Transaction)
WHERE t.seq % $sample_every = 0
RETURN t.merchant_id AS merchant_id, t.currency AS currency, count(*) AS n,
       sum(log(CASE WHEN t.amount > 0.01 THEN t.amount ELSE 0.01 END)) AS sum_log_amount, min(t.ts) AS first_ts
