// Records whose text may name an erased value: the given transactions' decision records, and decisions,
// rings, ring history, cases, audit rows and models (their meta: the account model's scores by user) whose
// text contains one of the needles.
// Parameters: $transaction_ids, $needles (list of strings).
// Returns: node (element id), kind (decision, ring, ring_history, case, audit, model), props (map of the texts).
CALL () {
  MATCH (n:Decision)
  WHERE n.transaction_id IN $transaction_ids OR any(x IN $needles WHERE n.body CONTAINS x)
  RETURN n, 'decision' AS kind, n {.body} AS props
  UNION ALL
  MATCH (n:Ring)
  WHERE any(x IN $needles WHERE n.users CONTAINS x OR n.body CONTAINS x)
  RETURN n, 'ring' AS kind, n {.users, .body} AS props
  UNION ALL
  MATCH (n:RingHistory)
  WHERE any(x IN $needles WHERE n.detail CONTAINS x)
  RETURN n, 'ring_history' AS kind, n {.detail} AS props
  UNION ALL
  MATCH (n:Case)
  WHERE any(x IN $needles WHERE n.ref CONTAINS x OR n.title CONTAINS x)
  RETURN n, 'case' AS kind, n {.ref, .title} AS props
  UNION ALL
  MATCH (n:Audit)
  WHERE any(x IN $needles WHERE n.target CONTAINS x OR n.detail CONTAINS x)
  RETURN n, 'audit' AS kind, n {.target, .detail} AS props
  UNION ALL
  MATCH (n:Model)
  WHERE any(x IN $needles WHERE n.meta CONTAINS x)
  RETURN n, 'model' AS kind, n {.meta} AS props
}
RETURN elementId(n) AS node, kind, props
