// What the store holds about one user, before erasing it (see Neo4jStore.erase_user).
// Parameters: $user_id.
// Returns: transaction_ids (list), n_labels (user labels), ring_ids (rings the user is an active member of),
// n_received (transfers naming the user as their counterparty).
CALL () {
  OPTIONAL MATCH (:User {id: $user_id})-[:MADE]->(t:Transaction)
  RETURN collect(t.transaction_id) AS transaction_ids
}
CALL () {
  OPTIONAL MATCH (l:Label {subject: 'user', subject_id: $user_id})
  RETURN count(l) AS n_labels
}
CALL () {
  OPTIONAL MATCH (m:RingMember {user_id: $user_id})
  RETURN collect(DISTINCT m.ring_id) AS ring_ids
}
CALL () {
  OPTIONAL MATCH (t:Transaction {counterparty_id: $user_id})
  RETURN count(t) AS n_received
}
RETURN transaction_ids, n_labels, ring_ids, n_received
