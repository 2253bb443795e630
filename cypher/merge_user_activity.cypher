// One batch of new transactions in one statement. Each identifier is merged once (by a uniqueness-constraint
// seek) and kept in a list; each user is merged once, its transactions are created with their MADE links,
// and its USED links (folded per batch in Python: first and last seen, count) are merged against the
// identifier nodes already in hand, by position, so that no identifier is looked up twice. A transfer (a
// transaction with a counterparty) is also a (:User)-[:TRANSFERRED {transaction_id, ts, amount}]->(:User).
// Positional lists, not maps: a batch is ~10,000 transactions and ~25,000 links, and maps would repeat
// every key in every row on the wire and in the server's parameter decoding.
// Parameters: $cards, $devices, $ips, $merchants (lists of distinct identifiers) and $users, a list of
//   [user_id, transactions, links] where transactions = [[transaction_id, seq, ts, amount, card_id,
//   device_id, ip, merchant_id, currency, country, is_fraud, labelled_at, extra, attrs, counterparty_id,
//   fraud_type, auth_result, decline_reason], ...] (a null value
//   is simply not set) and links = [[kind, position, first_seen, last_seen, n], ...], kind 0-3 naming the
//   list ($cards, $devices, $ips, $merchants) and position the identifier's place in it.
// Returns: nothing.
CALL () {
  UNWIND range(0, size($cards) - 1) AS i
  MERGE (e:Card {id: $cards[i]})
  WITH i, e ORDER BY i
  RETURN collect(e) AS cards
}
CALL () {
  UNWIND range(0, size($devices) - 1) AS i
  MERGE (e:Device {id: $devices[i]})
  WITH i, e ORDER BY i
  RETURN collect(e) AS devices
}
CALL () {
  UNWIND range(0, size($ips) - 1) AS i
  MERGE (e:IP {id: $ips[i]})
  WITH i, e ORDER BY i
  RETURN collect(e) AS ips
}
CALL () {
  UNWIND range(0, size($merchants) - 1) AS i
  MERGE (e:Merchant {id: $merchants[i]})
  WITH i, e ORDER BY i
  RETURN collect(e) AS merchants
}
WITH [cards, devices, ips, merchants] AS nodes
UNWIND $users AS g
MERGE (u:User {id: g[0]})
WITH nodes, u, g
CALL (u, g) {
  UNWIND g[1] AS t
  CREATE (u)-[:MADE]->(:Transaction {transaction_id: t[0], seq: t[1], ts: t[2], user_id: g[0], amount: t[3],
          card_id: t[4], device_id: t[5], ip: t[6], merchant_id: t[7], currency: t[8], country: t[9],
          is_fraud: t[10], labelled_at: t[11], extra: t[12], attrs: t[13], counterparty_id: t[14],
          fraud_type: t[15], auth_result: t[16], decline_reason: t[17]})
}
CALL (u, g) {
  UNWIND [t IN g[1] WHERE t[14] IS NOT NULL] AS t
  MERGE (cp:User {id: t[14]})
  CREATE (u)-[:TRANSFERRED {transaction_id: t[0], ts: t[2], amount: t[3]}]->(cp)
}
CALL (u, g, nodes) {
  UNWIND g[2] AS l
  WITH u, l, nodes[l[0]][l[1]] AS e
  MERGE (u)-[r:USED]->(e)
    ON CREATE SET r.first_seen = l[2], r.last_seen = l[3], r.n = l[4]
    ON MATCH SET r.first_seen = CASE WHEN l[2] < r.first_seen THEN l[2] ELSE r.first_seen END,
                 r.last_seen = CASE WHEN l[3] > r.last_seen THEN l[3] ELSE r.last_seen END,
                 r.n = r.n + l[4]
}
